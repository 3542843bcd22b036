// A lost binlog position on MariaDB, never skipped silently. The connector is stopped, a billing
// change is made and the binlog holding it is purged while `run` watches: /health, the log and
// doctor say "changes may be lost: run `sync --all`", and /health keeps saying it after the
// connector resumed (Debezium 3.5 on MariaDB then starts from the server's first GTID and skips
// the purged part without failing). Then the README runbook: forget the connector's offsets,
// resume, `sync --all`, restart `run`: the change in the lost part reaches the platform all the same.
//
// PURGE BINARY LOGS would cut every other connector on the shared server off its position, so
// this runs on a MariaDB server of its own (test/support/private-mariadb.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../../src/app.js';
import { openBilling } from '../../../src/billing/connect.js';
import { BlockCode } from '../../../src/billing/types.js';
import { installConnector, uninstallConnector } from '../../../src/capture/debezium/install.js';
import { silentLogger } from '../../../src/log.js';
import { runDoctor } from '../../../src/ops/doctor.js';
import { syncAll } from '../../../src/reconcile/sync.js';
import { type RunningService, startService } from '../../../src/service.js';
import { type Simulator, startSimulator } from '../../../src/smotreshka/simulator/index.js';
import { migrateUp } from '../../../src/state/migrate.js';
import { createLanbillingSchema } from '../../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../../fixture/sample.js';
import { debeziumCapture, dropKafkaTraces, uniqueNames } from '../../support/debezium.js';
import { testConfig, USERNAME_PREFIX } from '../../support/pipeline.js';
import {
  type PrivateMariadb,
  privateMariadbProblem,
  startPrivateMariadb,
} from '../../support/private-mariadb.js';
import { announceSkip, CONNECT_URL, stackProblem, useStack } from '../../support/stack.js';

const problem = (await stackProblem()) ?? privateMariadbProblem();
announceSkip('lost binlog position', problem);

const A = SAMPLE.accounts;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, ms: number, check: () => Promise<T | null | false>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await sleep(250);
  }
}

const connectCall = async (method: string, path: string) => {
  const res = await fetch(`${CONNECT_URL}${path}`, { method });
  return { status: res.status, body: await res.text() };
};

describe.skipIf(problem !== null)('a lost binlog position (MariaDB)', () => {
  let release: (() => void) | undefined;
  let server: PrivateMariadb;
  let sim: Simulator;
  let app: App;
  let service: RunningService;
  const { prefix, connector } = uniqueNames('lost');
  const db = 'billing_lost';
  const status = () => sim.store.byName(`${USERNAME_PREFIX}${A.svcBasic.login}`)?.state?.status;

  beforeAll(async () => {
    release = await useStack('lost-binlog');
    server = await startPrivateMariadb();
    await server.sql(`CREATE DATABASE ${db} CHARACTER SET utf8mb4`);
    const knex = openBilling('mysql', server.url(db), { min: 0, max: 2 });
    await createLanbillingSchema(knex, 'mysql');
    await loadSample(knex, 'mysql', new Date());
    await knex.destroy();
    sim = await startSimulator({ port: 0 });
    const config = testConfig('mysql', server.url(db), sim.url, {
      // the password in clear: this test is about the binlog, not about Connect's config providers
      capture: debeziumCapture(prefix, connector, { connect: { secret: 'clear' } }),
    });
    app = await createApp(config, silentLogger, { extraConnections: 4 });
    await migrateUp(app.knex, app.migration);
    await syncAll(app.reconciler, { dryRun: false, concurrency: 8 });
    service = await startService(app, { listen: '127.0.0.1:0', standbyRetryMs: 200 });
    await installConnector(config, app.knex, silentLogger, { waitMs: 120_000 });
    // streaming has begun once a change reaches the consumer
    for (let i = 0; !service.debezium?.stats().lastRecordAt; i++) {
      if (i > 300) throw new Error('the connector does not stream');
      await app
        .knex('vgroups')
        .where({ vg_id: 1500 })
        .update({ descr: `probe ${i}` });
      await sleep(300);
    }
  }, 300_000);

  afterAll(async () => {
    await service?.stop().catch(() => undefined);
    if (app) await uninstallConnector(app.config, app.knex).catch(() => undefined);
    await app?.close().catch(() => undefined);
    await sim?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await dropKafkaTraces(prefix);
    release?.();
  }, 120_000);

  /** PUT …/stop and wait until Connect says STOPPED (its offsets are committed then) */
  async function stopConnector(): Promise<void> {
    expect((await connectCall('PUT', `/connectors/${connector}/stop`)).status).toBeLessThan(300);
    await waitFor(
      'the connector STOPPED',
      60_000,
      async () =>
        JSON.parse((await connectCall('GET', `/connectors/${connector}/status`)).body).connector?.state ===
        'STOPPED',
    );
  }

  it('is reported as "changes may be lost: run `sync --all`"; the runbook brings the change through', async () => {
    // stopped: its offsets are committed and it reads nothing
    await stopConnector();
    // what was streamed before the stop has all arrived (a loaded machine lags)
    let streamed = -1;
    await waitFor('the consumer to be idle', 60_000, async () => {
      const now = service.debezium!.stats().changes;
      const idle = now === streamed;
      streamed = now;
      if (!idle) await sleep(3_000);
      return idle;
    });
    // a change only the purged binlog holds
    await app
      .knex('vgroups')
      .where({ vg_id: A.svcBasic.vgId })
      .update({ blocked: BlockCode.admin, blk_req: BlockCode.admin });
    // MariaDB keeps a binlog until its crash-recovery checkpoint has passed it: rotate and purge
    // until the file with the change is really gone
    const files = async () =>
      ((await app.knex.raw('SHOW BINARY LOGS')) as unknown as [{ Log_name: string }[]])[0].map(
        (r) => r.Log_name,
      );
    const holding = (await files()).at(-1)!;
    await waitFor(`${holding} purged`, 30_000, async () => {
      await server.sql('FLUSH BINARY LOGS');
      await sleep(300);
      const now = await files();
      await server.sql(`PURGE BINARY LOGS TO '${now.at(-1)!}'`);
      return !(await files()).includes(holding);
    });
    // the connector stays down a while (a Connect outage, a failed task) while `run` watches
    await sleep(8_000);
    expect((await connectCall('PUT', `/connectors/${connector}/resume`)).status).toBeLessThan(300);

    let last: unknown = null;
    const sick = await waitFor('/health to say changes may be lost', 90_000, async () => {
      const res = await fetch(`${service.url}/health`);
      const body = (await res.json()) as { problems: string[] };
      last = body;
      return res.status === 503 &&
        body.problems.some((p) => p.includes('changes may be lost: run `sync --all`'))
        ? body
        : null;
    }).catch((err: Error) => {
      throw new Error(`${err.message}; last /health: ${JSON.stringify(last)}`);
    });
    console.info(`[lost binlog] /health: ${sick.problems.join(' | ')}`);
    const checks = await runDoctor(app);
    expect(
      checks.find((c) => c.name === 'Debezium connector' || c.name === 'binlog position')?.detail ?? '',
    ).toBeTruthy();
    // the finding stays while this `run` runs, even once Debezium moved on by itself (it does, on
    // MariaDB with GTIDs: it resumes from the server's first GTID and skips what was purged)
    await sleep(6_000);
    const still = (await (await fetch(`${service.url}/health`)).json()) as { problems: string[] };
    expect(still.problems.join('\n')).toContain('changes may be lost: run `sync --all`');
    const w = service.debezium!.watch.snapshot();
    console.info(`[lost binlog] connector after resume: ${w.state}, tasks ${JSON.stringify(w.tasks)}`);
    // the change only the purged binlog held never came through the stream
    expect(service.debezium!.stats().changes).toBe(streamed);

    // the runbook: forget the offsets, resume (streams from now), sync --all
    await stopConnector();
    const reset = await connectCall('DELETE', `/connectors/${connector}/offsets`);
    expect(reset.status, reset.body).toBeLessThan(300);
    expect((await connectCall('PUT', `/connectors/${connector}/resume`)).status).toBeLessThan(300);
    await syncAll(app.reconciler, { dryRun: false, concurrency: 8 });
    expect(status()).toBe('suspended_manually');
    // and `run` restarted, as the runbook says: the finding was the old run's
    await service.stop();
    service = await startService(app, { listen: '127.0.0.1:0', standbyRetryMs: 200 });
    await waitFor(
      '/health 200 again',
      120_000,
      async () => (await fetch(`${service.url}/health`)).status === 200,
    );
    expect((await runDoctor(app)).find((c) => c.name === 'binlog position')).toBeUndefined();
  }, 300_000);
});
