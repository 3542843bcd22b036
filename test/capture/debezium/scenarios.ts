// The propagation behaviours of the trigger mode (test/propagation/changes.test.ts), through the
// real Debezium stack: billing commit → WAL/binlog → Debezium → Kafka → consumer group → queue →
// simulator. Plus what only this mode has: row moves between accounts and primary-key changes
// (delete + tombstone + create), unreadable messages on a captured topic, and replay. Used by
// propagation-pg.e2e.test.ts (everything) and propagation-mariadb.e2e.test.ts (a subset).
import { Kafka, logLevel } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dialect } from '../../../src/billing/connect.js';
import { sqlDateTime } from '../../../src/billing/sql-time.js';
import { BlockCode } from '../../../src/billing/types.js';
import { runDoctor } from '../../../src/ops/doctor.js';
import { CaptureErrors } from '../../../src/state/capture-errors.js';
import { categoryIdx, TARIFFS } from '../../fixture/catalogue.js';
import { SAMPLE } from '../../fixture/sample.js';
import { type DebeziumPipeline, startDebeziumPipeline } from '../../support/debezium.js';
import { USERNAME_PREFIX } from '../../support/pipeline.js';
import type { ChangeCall } from '../../support/platform-calls.js';
import { cli, writeConfig } from '../../support/run-child.js';
import { BROKER, useStack } from '../../support/stack.js';

const A = SAMPLE.accounts;
const T = TARIFFS;
const user = (login: string) => `${USERNAME_PREFIX}${login}`;
const at = (offsetMs: number) => sqlDateTime(new Date(Date.now() + offsetMs));
const texts = (calls: ChangeCall[]) => calls.map((c) => c.text).sort();
/** commit → platform through WAL/binlog, Connect and Kafka on a busy two-core machine */
const WAIT_MS = 45_000;

export function propagationSuite(dialect: Dialect, scope: 'full' | 'subset'): void {
  const full = scope === 'full';
  const itFull = full ? it : it.skip;

  describe(`billing changes reach the platform through Debezium and Kafka on ${dialect}`, () => {
    let d: DebeziumPipeline;
    let knex: Knex;
    let release: () => void;

    beforeAll(async () => {
      release = await useStack(`dbz-${dialect}`);
      // revert: the replay runbook's setting, so that replayed changes restore what the platform lost
      d = await startDebeziumPipeline(dialect, dialect === 'pg' ? 'dpg' : 'dmdb', {
        config: { smotreshka: { platformChanges: 'revert' } },
      });
      knex = d.p.db.knex;
    }, 660_000);
    afterAll(async () => {
      await d?.close();
      release?.();
    }, 120_000);

    async function settledCalls(mark: number, login: string): Promise<string[]> {
      await d.settled();
      return texts(d.p.callsSince(mark).filter((c) => c.username === user(login)));
    }
    async function callsFor(mark: number, login: string, n: number): Promise<string[]> {
      await d.p.waitFor(
        `${n} calls for ${login}`,
        () => d.p.callsSince(mark).filter((c) => c.username === user(login)).length >= n,
        WAIT_MS,
      );
      return settledCalls(mark, login);
    }
    /** the account was reconciled (its platform account read) even when nothing had to change */
    async function reconciled(mark: number, login: string): Promise<void> {
      const id = d.p.sim.store.byName(user(login))?.id;
      await d.p.waitFor(
        `a reconcile of ${login}`,
        () =>
          d.p.sim.recorder
            .since(mark, 100_000)
            .calls.some((c) => c.method === 'GET' && c.path.endsWith(`/${id}`)),
        WAIT_MS,
      );
    }

    it('assigning and stopping an additional service', async () => {
      let m = d.p.mark();
      await knex('services').insert({
        vg_id: A.svcBasic.vgId,
        tar_id: T.tvServices,
        serv_cat_idx: categoryIdx(T.tvServices, '5012'),
        timefrom: at(-60_000),
        state: 1,
      });
      expect(await callsFor(m, A.svcBasic.login, 1)).toEqual([`enable ${user(A.svcBasic.login)} 5012`]);
      m = d.p.mark();
      await knex('services')
        .where({ vg_id: A.svcBasic.vgId, serv_cat_idx: categoryIdx(T.tvServices, '5012') })
        .update({ timeto: at(-1000) });
      expect(await callsFor(m, A.svcBasic.login, 1)).toEqual([`disable ${user(A.svcBasic.login)} 5012`]);
    });

    it('switching the basic subscription in one transaction', async () => {
      const m = d.p.mark();
      await knex.transaction(async (trx) => {
        await trx('services')
          .where({ vg_id: A.svcBasic.vgId, serv_cat_idx: categoryIdx(T.tvServices, '100') })
          .update({ timeto: at(-1000) });
        await trx('services').insert({
          vg_id: A.svcBasic.vgId,
          tar_id: T.tvServices,
          serv_cat_idx: categoryIdx(T.tvServices, '102'),
          timefrom: at(-1000),
          state: 1,
        });
      });
      const u = user(A.svcBasic.login);
      expect(await callsFor(m, A.svcBasic.login, 2)).toEqual([`disable ${u} 100`, `enable ${u} 102`]);
      expect(d.p.subscriptionsOf(A.svcBasic.login)).toEqual(['102', '5010', '5011']);
    });

    it('blocking and unblocking', async () => {
      const u = user(A.svcBasic.login);
      let m = d.p.mark();
      await knex('vgroups')
        .where({ vg_id: A.svcBasic.vgId })
        .update({ blocked: BlockCode.admin, blk_req: BlockCode.admin });
      expect(await callsFor(m, A.svcBasic.login, 4)).toEqual([
        `disable ${u} 102`,
        `disable ${u} 5010`,
        `disable ${u} 5011`,
        `state ${u} suspended_manually 35000`,
      ]);
      m = d.p.mark();
      await knex('vgroups')
        .where({ vg_id: A.svcBasic.vgId })
        .update({ blocked: BlockCode.active, blk_req: BlockCode.active });
      expect(await callsFor(m, A.svcBasic.login, 4)).toEqual([
        `enable ${u} 102`,
        `enable ${u} 5010`,
        `enable ${u} 5011`,
        `state ${u} active 35000`,
      ]);
    });

    it('archiving (and, on the full run, switching off)', async () => {
      if (full) {
        const m = d.p.mark();
        await knex('vgroups').where({ vg_id: A.svcFuture.vgId }).update({ blocked: BlockCode.switchedOff });
        expect(await callsFor(m, A.svcFuture.login, 2)).toEqual([
          `disable ${user(A.svcFuture.login)} 100`,
          `state ${user(A.svcFuture.login)} other 100000`,
        ]);
      }
      const m = d.p.mark();
      await knex('vgroups').where({ vg_id: A.svcNoEmail.vgId }).update({ archive: 1 });
      const u = user(A.svcNoEmail.login);
      expect(await callsFor(m, A.svcNoEmail.login, 2)).toEqual([
        `disable ${u} 100`,
        `state ${u} other 25000`,
      ]);
    });

    it('a balance change is pushed to every account of the agreement', async () => {
      const m = d.p.mark();
      await knex('agreements')
        .where({ agrm_id: SAMPLE.agreements.ivanovMain.agrmId })
        .update({ balance: '123.45' });
      expect(await callsFor(m, A.svcBasic.login, 1)).toEqual([
        `state ${user(A.svcBasic.login)} active 12345`,
      ]);
      expect(await settledCalls(m, A.inetTvA.login)).toEqual([`state ${user(A.inetTvA.login)} active 12345`]);
    });

    it('layout 3: changing the main tariff leaves the multi-tariff TV services alone', async () => {
      const m = d.p.mark();
      await knex('vgroups').where({ vg_id: A.inetMulti.vgId }).update({ tar_id: T.internetTvA });
      await reconciled(m, A.inetMulti.login);
      expect(await settledCalls(m, A.inetMulti.login)).toEqual([]);
      expect(d.p.subscriptionsOf(A.inetMulti.login)).toEqual(['100', '5011']);
    });

    it('layout 2: re-attaching the same uuids under a new tariff in one transaction causes no disable/enable', async () => {
      const before = d.p.subscriptionsOf(A.inetTvA.login);
      const m = d.p.mark();
      await knex.transaction(async (trx) => {
        await trx('services')
          .where({ vg_id: A.inetTvA.vgId, tar_id: T.internetTvA })
          .update({ timeto: at(-1000) });
        await trx('services').insert(
          (['101', '5010', 'staticIp'] as const).map((offer) => ({
            vg_id: A.inetTvA.vgId,
            tar_id: T.internetTvB,
            serv_cat_idx: categoryIdx(T.internetTvB, offer),
            timefrom: at(-1000),
            state: 3,
          })),
        );
        await trx('vgroups').where({ vg_id: A.inetTvA.vgId }).update({ tar_id: T.internetTvB });
      });
      await reconciled(m, A.inetTvA.login);
      expect(await settledCalls(m, A.inetTvA.login)).toEqual([]);
      expect(d.p.subscriptionsOf(A.inetTvA.login)).toEqual(before);
    });

    itFull(
      'a service expires and another starts on time, with no row change (timers on the leader)',
      async () => {
        const u = user(A.svcStopped.login);
        const boundary = at(3_000);
        const boundaryMs = new Date(`${boundary.replace(' ', 'T')}Z`).getTime();
        let m = d.p.mark();
        await knex('services').insert([
          {
            vg_id: A.svcStopped.vgId,
            tar_id: T.tvServices,
            serv_cat_idx: categoryIdx(T.tvServices, '5011'),
            timefrom: at(-60_000),
            timeto: boundary,
            state: 3,
          },
          {
            vg_id: A.svcStopped.vgId,
            tar_id: T.tvServices,
            serv_cat_idx: categoryIdx(T.tvServices, '5012'),
            timefrom: boundary,
            state: 1,
          },
        ]);
        expect(await callsFor(m, A.svcStopped.login, 1)).toEqual([`enable ${u} 5011`]);
        m = d.p.mark();
        await d.p.waitFor(
          'the timer',
          () => d.p.callsSince(m).filter((c) => c.username === u).length >= 2,
          15_000,
        );
        const timed = d.p.callsSince(m).filter((c) => c.username === u);
        expect(texts(timed)).toEqual([`disable ${u} 5011`, `enable ${u} 5012`]);
        for (const c of timed) expect(c.at).toBeGreaterThanOrEqual(boundaryMs);
      },
    );

    itFull(
      'a services row moved to another account: the old loses the subscription, the new gains it',
      async () => {
        const m = d.p.mark();
        const idx = categoryIdx(T.tvServices, '5013');
        const [id] = await knex('services')
          .insert({
            vg_id: A.svcExpired.vgId,
            tar_id: T.tvServices,
            serv_cat_idx: idx,
            timefrom: at(-60_000),
            state: 3,
          })
          .returning('service_id');
        const serviceId = typeof id === 'object' ? (id as { service_id: number }).service_id : id;
        expect(await callsFor(m, A.svcExpired.login, 1)).toEqual([`enable ${user(A.svcExpired.login)} 5013`]);
        const m2 = d.p.mark();
        // the update's before image (REPLICA IDENTITY FULL / binlog row image) names the old account
        await knex('services').where({ service_id: serviceId }).update({ vg_id: A.svcStopped.vgId });
        expect(await callsFor(m2, A.svcExpired.login, 1)).toEqual([
          `disable ${user(A.svcExpired.login)} 5013`,
        ]);
        expect(await callsFor(m2, A.svcStopped.login, 1)).toContain(
          `enable ${user(A.svcStopped.login)} 5013`,
        );
        // a primary-key change: delete + tombstone + create for the same account, nothing to change
        const m3 = d.p.mark();
        await knex('services')
          .where({ service_id: serviceId })
          .update({ service_id: Number(serviceId) + 100_000 });
        await reconciled(m3, A.svcStopped.login);
        expect(await settledCalls(m3, A.svcStopped.login)).toEqual([]);
      },
    );

    it('an unreadable message on a captured topic is recorded and parks its account; the group goes on', async () => {
      const kafka = new Kafka({
        clientId: 'lifestream-test-producer',
        brokers: [BROKER],
        logLevel: logLevel.NOTHING,
      });
      const producer = kafka.producer();
      await producer.connect();
      try {
        await producer.send({
          topic: d.topic('vgroups'),
          messages: [
            { key: JSON.stringify({ vg_id: A.svcBlockedUser.vgId }), value: '{"before": {"vg_id": ' },
            {
              key: JSON.stringify({ service_id: 424242 }),
              value: JSON.stringify({ op: 'z', after: { service_id: 424242 } }),
            },
          ],
        });
      } finally {
        await producer.disconnect();
      }
      const errors = new CaptureErrors(knex, 'lifestream_');
      await d.p.waitFor('both messages recorded', async () => (await errors.count()) >= 2, WAIT_MS);
      const recorded = (await errors.latest()).sort((x, y) => Number(x.offset) - Number(y.offset));
      expect(recorded).toEqual([
        expect.objectContaining({
          topic: d.topic('vgroups'),
          vgId: A.svcBlockedUser.vgId,
          error: expect.stringMatching(/^the message value is not JSON/),
        }),
        expect.objectContaining({ topic: d.topic('vgroups'), vgId: null, error: 'unknown Debezium op "z"' }),
      ]);
      // the account is parked right after the records commit (a loaded machine may show the gap)
      const parkedNow = async () =>
        (await d.p.app.store.listParked()).find((x) => x.vgId === A.svcBlockedUser.vgId);
      await d.p.waitFor('the named account parked', async () => (await parkedNow()) !== undefined, WAIT_MS);
      const parked = await parkedNow();
      expect(parked).toMatchObject({ reason: 'malformed_change', source: recorded[0]!.position });
      expect(parked?.detail).toContain(`Kafka message ${recorded[0]!.position}`);
      // doctor shows them
      const checks = await runDoctor(d.p.app);
      expect(checks.find((c) => c.name === 'unreadable change messages')).toMatchObject({
        status: 'warn',
        detail: expect.stringContaining(recorded[0]!.position),
      });
      expect(checks.find((c) => c.name === 'Debezium connector')).toMatchObject({ status: 'ok' });
      // the same topic and partition keep flowing
      const m = d.p.mark();
      await knex('vgroups')
        .where({ vg_id: A.svcStopped.vgId })
        .update({ blocked: BlockCode.user, blk_req: BlockCode.user });
      const calls = await callsFor(m, A.svcStopped.login, 2);
      expect(calls).toContain(`state ${user(A.svcStopped.login)} suspended_manually 9000`);
    });

    itFull(
      'the platform lost changes: stop, replay since before them, start: the platform is restored',
      async () => {
        const since = new Date(Date.now() - 1000);
        const u = user(A.svcBlockedAdmin.login);
        let m = d.p.mark();
        await knex('services').insert({
          vg_id: A.svcBlockedAdmin.vgId,
          tar_id: T.tvServices,
          serv_cat_idx: categoryIdx(T.tvServices, '5013'),
          timefrom: at(-60_000),
          state: 3,
        });
        await knex('vgroups')
          .where({ vg_id: A.svcBlockedAdmin.vgId })
          .update({ blocked: BlockCode.active, blk_req: BlockCode.active });
        await d.p.waitFor(
          'the changes on the platform',
          () => d.p.subscriptionsOf(A.svcBlockedAdmin.login)?.includes('5013'),
          WAIT_MS,
        );
        await d.settled();
        const billingSays = d.p.subscriptionsOf(A.svcBlockedAdmin.login);
        expect(billingSays).toEqual(['100', '5012', '5013']);

        // the platform comes back from a backup taken before `since`: the account as it was
        const res = await fetch(`${d.p.sim.url}/_simulator/accounts/${encodeURIComponent(u)}/subscriptions`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify([]),
        });
        expect(res.status).toBe(200);

        const configFile = writeConfig({ ...structuredClone(d.p.config), listen: '127.0.0.1:1' });
        // refused while `run` is in the group
        const refused = cli(['replay', '--config', configFile, '--since', since.toISOString()]);
        expect((await refused.exited).code).toBe(3);
        expect(refused.output()).toMatch(
          /consumer group "dbz_\w+" has 1 active member\(s\).*stop every `run`/s,
        );

        await d.p.service.stop();
        // the group's membership ends with the consumer's LeaveGroup
        const dry = cli(['replay', '--config', configFile, '--since', since.toISOString(), '--dry-run']);
        expect((await dry.exited).code).toBe(0);
        expect(dry.output()).toMatch(new RegExp(`${d.topic('vgroups')}/0 +\\d+ +\\d+ +[1-9]\\d* +[1-9]`));
        expect(dry.output()).toMatch(/\(dry run: nothing changed\)/);
        const replay = cli(['replay', '--config', configFile, '--since', since.toISOString()]);
        expect((await replay.exited).code, replay.output()).toBe(0);

        m = d.p.mark();
        await d.p.restart();
        await d.p.waitFor(
          'the platform restored',
          () => d.p.subscriptionsOf(A.svcBlockedAdmin.login)?.join(',') === billingSays!.join(','),
          WAIT_MS,
        );
        expect(texts(d.p.callsSince(m).filter((c) => c.username === u))).toEqual(
          expect.arrayContaining([`enable ${u} 100`, `enable ${u} 5012`, `enable ${u} 5013`]),
        );
      },
    );
  });
}
