// Debezium mode under failure, end to end on PostgreSQL: two `run` processes in one consumer group
// share the partitions; during a stream of billing changes one is killed with SIGKILL, Kafka
// Connect is killed and restarted, the broker is restarted, and the killed instance comes back.
// Afterwards the platform (the simulator) holds exactly what the billing says: nothing was lost.
//
// Restarting the broker and Connect disturbs every other user of the stack: this file takes the
// stack exclusively (test/support/stack.ts) and waits for the other e2e files, which wait for it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debeziumNames } from '../../../migrations/debezium/index.js';
import { dropSlot, ownSlots } from '../../../migrations/debezium/pg.js';
import { type App, createApp } from '../../../src/app.js';
import { installConnector, uninstallConnector } from '../../../src/capture/debezium/install.js';
import { parseConfig } from '../../../src/config.js';
import { silentLogger } from '../../../src/log.js';
import { syncAll } from '../../../src/reconcile/sync.js';
import { type Simulator, startSimulator } from '../../../src/smotreshka/simulator/index.js';
import { migrateUp } from '../../../src/state/migrate.js';
import { PendingStore } from '../../../src/state/pending.js';
import { createLanbillingSchema } from '../../fixture/lanbilling-schema.js';
import { loadSample } from '../../fixture/sample.js';
import { billingBurst } from '../../support/burst.js';
import { differences } from '../../support/converged.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { debeziumCapture, dropKafkaTraces, uniqueNames } from '../../support/debezium.js';
import { cli, freePort, REPO, type RunChild, writeConfig } from '../../support/run-child.js';
import { announceSkip, BROKER, lockStackExclusively, stackProblem } from '../../support/stack.js';

const problem = await stackProblem();
announceSkip('debezium reliability', problem);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const exec = promisify(execFile);

/** scripts/stack/restart-<role>.sh: returns when the stack is ready again */
async function restart(role: 'broker' | 'connect', ...args: string[]): Promise<number> {
  const t0 = Date.now();
  await exec(`${REPO}scripts/stack/restart-${role}.sh`, args, { timeout: 240_000 });
  return Date.now() - t0;
}

/** The partitions a child took at its last join, from its log. */
function assignment(child: RunChild): Record<string, number[]> {
  const joins = child
    .output()
    .split('\n')
    .filter((l) => l.includes('joined the consumer group'));
  const last = joins.at(-1);
  return last ? (JSON.parse(last).assignment as Record<string, number[]>) : {};
}
/** How a child ended, or 'still running' after `ms` (a shutdown that hangs fails the test, not the suite). */
async function exitWithin(
  c: RunChild,
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    c.exited,
    new Promise<'still running'>((res) => (timer = setTimeout(() => res('still running'), ms))),
  ]);
  clearTimeout(timer);
  return r;
}
const partitionsOf = (a: Record<string, number[]>) => Object.values(a).reduce((n, p) => n + p.length, 0);

describe.skipIf(problem !== null)('Debezium capture under failures (PostgreSQL)', () => {
  let release: (() => void) | undefined;
  let db: TestDatabase;
  let sim: Simulator;
  let app: App;
  let raw: Record<string, unknown>;
  const { prefix, connector } = uniqueNames('rel');
  const children: RunChild[] = [];

  const start = async () => {
    const child = cli(['run', '--config', writeConfig({ ...raw, listen: `127.0.0.1:${await freePort()}` })]);
    children.push(child);
    await child.waitForOutput(/consuming billing changes/, 60_000);
    return child;
  };

  beforeAll(async () => {
    release = await lockStackExclusively('dbz-reliability');
    db = await createTestDatabase('pg', 'dbzrel');
    await createLanbillingSchema(db.knex, 'pg');
    await loadSample(db.knex, 'pg', new Date());
    sim = await startSimulator({ port: 0 });
    raw = {
      billing: { client: 'pg', connection: db.url },
      smotreshka: { url: sim.url, usernamePrefix: 'op_', retries: 1, timeoutMs: 3000 },
      // two partitions per topic: the two instances each get a share of every table
      capture: debeziumCapture(prefix, connector, {
        connect: {
          url: process.env.LIFESTREAM_TEST_CONNECT ?? 'http://127.0.0.1:8083',
          connectorName: connector,
          settings: { HEARTBEAT_INTERVAL_MS: '1000', TOPIC_PARTITIONS: '2' },
        },
      }),
      queue: { retryMaxDelayMs: 2_000, circuitMaxPauseMs: 2_000, shutdownGraceMs: 2_000 },
      log: { format: 'json' },
    };
    app = await createApp(parseConfig(raw), silentLogger);
    await migrateUp(app.knex, app.migration);
    await installConnector(app.config, app.knex, silentLogger, { waitMs: 120_000 });
    await syncAll(app.reconciler, { dryRun: false, concurrency: 8 });
    expect(await differences(app, sim)).toEqual([]);
  }, 900_000);

  afterAll(async () => {
    for (const c of children)
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    if (app) {
      await uninstallConnector(app.config, app.knex).catch(() => undefined);
      for (const slot of await ownSlots(app.knex, debeziumNames('lifestream_')).catch(() => []))
        await dropSlot(app.knex, slot.name).catch(() => undefined);
      await app.close();
    }
    await sim?.close();
    await db?.drop();
    await dropKafkaTraces(prefix);
    release?.();
  }, 120_000);

  it('kill -9 of one of two instances, Connect and broker restarts mid-stream: the platform ends equal to the billing', async () => {
    const t0 = Date.now();
    const step = (what: string) =>
      console.log(`[dbz-reliability] +${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`);
    // streaming has begun once a probe write reaches the vgroups topic
    const kafka = new Kafka({ clientId: 'lifestream-test', brokers: [BROKER], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const vgroups = `${prefix}.public.vgroups`;
    const written = async () =>
      (await admin.fetchTopicOffsets(vgroups)).reduce((n, p) => n + Number(p.high), 0);
    for (let i = 0; (await written()) === 0; i++) {
      if (i > 200) throw new Error('the connector does not stream');
      await db
        .knex('vgroups')
        .where({ vg_id: 1500 })
        .update({ descr: `probe ${i}` });
      await sleep(300);
    }
    await admin.disconnect();

    step('streaming');
    const first = await start();
    const second = await start();
    // two members, each with a share of the partitions
    await first
      .waitForOutput(/joined the consumer group.*joined the consumer group/s, 30_000)
      .catch(() => undefined);
    await sleep(1_000);
    const shares = [partitionsOf(assignment(first)), partitionsOf(assignment(second))];
    expect(
      shares.every((n) => n > 0),
      `assignments ${JSON.stringify(shares)}`,
    ).toBe(true);
    expect(shares[0]! + shares[1]!).toBe(14); // 7 topics × 2 partitions

    step('two instances');
    // 1. SIGKILL one instance in the middle of a burst: the other takes its partitions
    await billingBurst(db.knex, {
      changes: 300,
      seed: 21,
      writers: 2,
      onChange: (i) => {
        if (i === 100) first.child.kill('SIGKILL');
      },
    });
    expect((await first.exited).signal).toBe('SIGKILL');

    step('killed one');
    // 2. Connect crashes and comes back while changes keep coming
    const [connectMs] = await Promise.all([
      restart('connect', '--kill'),
      billingBurst(db.knex, { changes: 300, seed: 22, writers: 2 }),
    ]);

    step('Connect restarted');
    // 3. the broker restarts while changes keep coming
    const [brokerMs] = await Promise.all([
      restart('broker'),
      billingBurst(db.knex, { changes: 300, seed: 23, writers: 2 }),
    ]);

    step('broker restarted');
    // 4. the killed instance comes back; a last few changes
    const third = await start();
    step('third instance');
    await billingBurst(db.knex, { changes: 100, seed: 24, writers: 2 });
    const lastChange = Date.now();

    const pending = new PendingStore(db.knex, 'lifestream_', 'pg');
    const deadline = Date.now() + 120_000;
    let diff: string[] = ['not checked'];
    while (Date.now() < deadline) {
      if ((await pending.count()) === 0) {
        diff = await differences(app, sim);
        if (diff.length === 0) break;
      }
      await sleep(500);
    }
    console.log(
      `[dbz-reliability] Connect restart ${connectMs} ms, broker restart ${brokerMs} ms; converged ${Date.now() - lastChange} ms after the last change`,
    );
    expect(diff).toEqual([]);

    for (const c of [second, third]) c.child.kill('SIGTERM');
    for (const c of [second, third]) {
      expect(await exitWithin(c, 30_000), c.output().slice(-3000)).toEqual({ code: 0, signal: null });
    }
    step('stopped');
  }, 900_000);
});
