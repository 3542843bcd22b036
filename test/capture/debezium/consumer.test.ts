// The Debezium consumer's batch handling against the real billing databases, with a scripted
// stream instead of Kafka: what gets queued, when an offset is acknowledged (only after the
// accounts are durably queued), what happens while the database is down (pause, nothing
// acknowledged, nothing skipped), and how unreadable messages are recorded, parked and passed.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { debeziumNames } from '../../../migrations/debezium/index.js';
import { UTC_CLOCK } from '../../../src/billing/clock.js';
import { billingReader } from '../../../src/billing/read.js';
import { DebeziumConsumer } from '../../../src/capture/debezium/consumer.js';
import type { StreamRecord } from '../../../src/capture/debezium/envelope.js';
import type { ChangeStream, StreamBatch } from '../../../src/capture/debezium/kafka.js';
import { captureTopics } from '../../../src/capture/debezium/topics.js';
import { silentLogger } from '../../../src/log.js';
import { CaptureErrors } from '../../../src/state/capture-errors.js';
import { migrateUp } from '../../../src/state/migrate.js';
import { PendingStore } from '../../../src/state/pending.js';
import { StateStore } from '../../../src/state/store.js';
import { createLanbillingSchema } from '../../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../../fixture/sample.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../support/db.js';
import { envelope, record } from './fixtures.js';

const A = SAMPLE.accounts;

/** A batch the test drives by hand: records what the consumer resolved and paused. */
function scriptedBatch(records: StreamRecord[]) {
  const seen = { resolved: null as string | null, paused: 0, resumed: 0, heartbeats: 0 };
  const batch: StreamBatch = {
    topic: records[0]!.topic,
    partition: records[0]!.partition,
    records,
    resolve: (offset) => {
      seen.resolved = offset;
    },
    heartbeat: async () => {
      seen.heartbeats++;
    },
    live: () => true,
    pause: () => {
      seen.paused++;
      return () => {
        seen.resumed++;
      };
    },
  };
  return { batch, seen };
}

const idleStream: ChangeStream = {
  start: async () => undefined,
  stop: async () => undefined,
  pause: () => undefined,
  resume: () => undefined,
  assignment: () => ({}),
  joined: () => false,
};

describe.each(DIALECTS)('Debezium consumer batches on %s', (dialect) => {
  let db: TestDatabase;
  let consumer: DebeziumConsumer;
  let pending: PendingStore;
  let store: StateStore;
  let queued: number;
  const ns = dialect === 'pg' ? 'public' : 'billing';
  const topics = captureTopics('lb', ns, dialect === 'pg' ? 'lifestream_heartbeat' : null);
  const topic = (table: string) => `lb.${ns}.${table}`;

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'dbzcons');
    await createLanbillingSchema(db.knex, dialect);
    await loadSample(db.knex, dialect, new Date());
    await migrateUp(db.knex, { dialect, prefix: 'lifestream_', captureMode: 'debezium' });
    pending = new PendingStore(db.knex, 'lifestream_', dialect);
    store = new StateStore(db.knex, 'lifestream_');
    consumer = new DebeziumConsumer({
      stream: idleStream,
      knex: db.knex,
      pending,
      store,
      captureErrors: new CaptureErrors(db.knex, 'lifestream_'),
      fanout: billingReader(db.knex, UTC_CLOCK),
      topics,
      logger: silentLogger,
      onQueued: () => {
        queued++;
      },
      options: { debounceMs: 0, maxBackoffMs: 50 },
    });
  });
  beforeEach(async () => {
    queued = 0;
    await db.knex('lifestream_pending').delete();
    await db.knex('lifestream_parked').delete();
    await db.knex(debeziumNames('lifestream_').captureErrors).delete();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const queuedIds = async () =>
    (await db.knex('lifestream_pending').orderBy('vg_id')).map((r) => [Number(r.vg_id), r.reason, r.source]);

  it('queues the accounts of a batch, then acknowledges its last offset', async () => {
    const svc = { service_id: 1, vg_id: A.svcBasic.vgId, tar_id: 10, serv_cat_idx: 1, state: 1 };
    const { batch, seen } = scriptedBatch([
      record(topic('services'), { service_id: 1 }, envelope('u', svc, { ...svc, state: 2 }), '10'),
      record(
        topic('services'),
        { service_id: 1 },
        envelope('d', { ...svc, vg_id: A.inetTvA.vgId }, null),
        '11',
      ),
      record(topic('services'), { service_id: 1 }, null, '12'), // tombstone
    ]);
    await consumer.handle(batch);
    expect(await queuedIds()).toEqual([
      [A.svcBasic.vgId, 'services', `lb.${ns}.services/0/10`],
      [A.inetTvA.vgId, 'services', `lb.${ns}.services/0/11`],
    ]);
    expect(seen.resolved).toBe('12');
    expect(seen.paused).toBe(0);
    expect(queued).toBe(1);
  });

  it('an agreement change fans out to every vgroup of the agreement', async () => {
    const agrm = {
      agrm_id: A.svcBasic.agrmId,
      uid: A.svcBasic.uid,
      balance: '350.00',
      credit: '0',
      state: 0,
      archive: 0,
    };
    const { batch } = scriptedBatch([
      record(
        topic('agreements'),
        { agrm_id: agrm.agrm_id },
        envelope('u', agrm, { ...agrm, balance: '10.00' }),
      ),
    ]);
    await consumer.handle(batch);
    // svc-basic and inet-tv-a share the ivanovMain agreement (the template vgroup is not an account)
    expect((await queuedIds()).map((r) => r[0])).toEqual([A.svcBasic.vgId, A.inetTvA.vgId]);
  });

  it('a truncate queues every account the service knows', async () => {
    await store.save(
      [A.svcBasic.vgId, A.svcFuture.vgId].map((vgId) => ({
        vgId,
        platformId: null,
        username: `u${vgId}`,
        subscriptions: null,
        state: null,
        stateTs: null,
        nextAt: null,
      })),
    );
    const { batch, seen } = scriptedBatch([record(topic('services'), null, envelope('t', null, null), '5')]);
    await consumer.handle(batch);
    expect(await queuedIds()).toEqual([
      [A.svcBasic.vgId, 'truncate', `lb.${ns}.services/0`],
      [A.svcFuture.vgId, 'truncate', `lb.${ns}.services/0`],
    ]);
    expect(seen.resolved).toBe('5');
  });

  it('an unreadable message is recorded with its position, parks the account it names, and the batch goes on', async () => {
    const vg = { vg_id: A.svcFuture.vgId, blocked: 0 };
    const { batch, seen } = scriptedBatch([
      record(topic('vgroups'), { vg_id: A.svcStopped.vgId }, '{"not json', '20'),
      record(topic('services'), { service_id: 3 }, '[]', '21'),
      record(topic('vgroups'), { vg_id: vg.vg_id }, envelope('u', vg, { ...vg, blocked: 3 }), '22'),
    ]);
    await consumer.handle(batch);
    await consumer.handle(batch); // delivered again after a crash: still one record each
    expect(seen.resolved).toBe('22');
    expect((await queuedIds()).map((r) => r[0])).toEqual([A.svcFuture.vgId]);
    const errors = await new CaptureErrors(db.knex, 'lifestream_').latest();
    expect(errors.map((e) => [e.position, e.vgId, e.messageKey]).sort()).toEqual([
      [`lb.${ns}.services/0/21`, null, '{"service_id":3}'],
      [`lb.${ns}.vgroups/0/20`, A.svcStopped.vgId, `{"vg_id":${A.svcStopped.vgId}}`],
    ]);
    expect(errors.find((e) => e.offset === '20')?.error).toMatch(/^the message value is not JSON/);
    const parked = await store.listParked();
    expect(parked).toEqual([
      expect.objectContaining({
        vgId: A.svcStopped.vgId,
        reason: 'malformed_change',
        source: `lb.${ns}.vgroups/0/20`,
        detail: expect.stringContaining(`(Kafka message lb.${ns}.vgroups/0/20)`),
      }),
    ]);
  });

  it('while the queue table cannot be written: nothing acknowledged, the partition paused, then resumed', async () => {
    const vg = { vg_id: A.svcBasic.vgId, blocked: 0 };
    const { batch, seen } = scriptedBatch([
      record(topic('vgroups'), { vg_id: vg.vg_id }, envelope('u', vg, { ...vg, blocked: 3 }), '30'),
    ]);
    // the database "goes away" for this table: rename it under the consumer
    const q = (t: string) => (dialect === 'pg' ? `"${t}"` : `\`${t}\``);
    await db.knex.raw(`ALTER TABLE ${q('lifestream_pending')} RENAME TO ${q('lifestream_pending_away')}`);
    try {
      await consumer.handle(batch);
      expect(seen.resolved).toBeNull();
      expect(seen.paused).toBe(1);
      expect(consumer.stats()).toMatchObject({
        failing: true,
        lastError: expect.stringMatching(/lifestream_pending/),
      });
      await new Promise((r) => setTimeout(r, 150));
      expect(seen.resumed).toBe(1);
    } finally {
      await db.knex.raw(`ALTER TABLE ${q('lifestream_pending_away')} RENAME TO ${q('lifestream_pending')}`);
    }
    // the same batch comes again once resumed
    await consumer.handle(batch);
    expect(seen.resolved).toBe('30');
    expect((await queuedIds()).map((r) => r[0])).toEqual([A.svcBasic.vgId]);
    expect(consumer.stats().failing).toBe(false);
  });

  it('a batch of a partition taken away meanwhile is not acknowledged', async () => {
    const vg = { vg_id: A.svcBasic.vgId, blocked: 0 };
    const { batch, seen } = scriptedBatch([
      record(topic('vgroups'), { vg_id: vg.vg_id }, envelope('u', vg, { ...vg, blocked: 1 }), '40'),
    ]);
    let checks = 0;
    batch.live = () => ++checks < 3; // taken away after the fan-out
    await consumer.handle(batch);
    expect(seen.resolved).toBeNull();
  });
});
