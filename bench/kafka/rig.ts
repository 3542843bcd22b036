// The Debezium benchmark's rig: the propagation rig's shape (bench/propagation/rig.ts) in
// capture.mode debezium on the local stack. A fresh billing database with generated accounts (the
// trigger capture the loader installs is removed again, so billing writes pay only for WAL/binlog),
// migrate in debezium mode, the topics and the connector registered as `migrate` does, an initial
// sync, the simulator in its own process, the service in-process. Its own topic prefix, group,
// connector and slot; close() removes them.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { removeTriggerCapture } from '../../migrations/capture/index.js';
import { debeziumNames } from '../../migrations/debezium/index.js';
import { dropSlot, ownSlots } from '../../migrations/debezium/pg.js';
import { createApp } from '../../src/app.js';
import type { Dialect } from '../../src/billing/connect.js';
import { installConnector, uninstallConnector } from '../../src/capture/debezium/install.js';
import { type Config, parseConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { syncAll } from '../../src/reconcile/sync.js';
import { startService } from '../../src/service.js';
import type { CallRecord } from '../../src/smotreshka/simulator/index.js';
import { migrateUp } from '../../src/state/migrate.js';
import { PREFIX, type Rig } from '../propagation/rig.js';
import { dropDb, freePort, freshBillingDb } from '../support.js';

export const BROKER = process.env.LIFESTREAM_TEST_KAFKA ?? '127.0.0.1:9092';
export const CONNECT_URL = process.env.LIFESTREAM_TEST_CONNECT ?? 'http://127.0.0.1:8083';

async function simulatorProcess(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'simulator', '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('platform simulator')) resolve();
    });
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

export async function startDebeziumRig(
  dialect: Dialect,
  count: number,
  opts: { kafka?: Record<string, unknown>; settings?: Record<string, string> } = {},
): Promise<Rig & { config: Config }> {
  const name = `lifestream_bench_kafka_${dialect}`;
  const id = randomBytes(3).toString('hex');
  const prefix = `bench_${dialect}_${id}`;
  const { url, knex } = await freshBillingDb(dialect, name, count);
  const sim = await simulatorProcess();
  const config = parseConfig({
    billing: { client: dialect, connection: url, pool: { min: 0, max: 24 } },
    smotreshka: { url: sim.url, usernamePrefix: PREFIX, concurrency: 64, retries: 2 },
    capture: {
      mode: 'debezium',
      kafka: { brokers: [BROKER], topicPrefix: prefix, groupId: prefix, clientId: prefix, ...opts.kafka },
      connect: {
        url: CONNECT_URL,
        connectorName: `bench-${dialect}-${id}`,
        settings: { HEARTBEAT_INTERVAL_MS: '1000', ...opts.settings },
      },
    },
    queue: { concurrency: 48 },
  });
  const app = await createApp(config, silentLogger, { extraConnections: 4 });
  await removeTriggerCapture(knex, app.migration);
  await migrateUp(app.knex, app.migration);
  await installConnector(config, app.knex, silentLogger, { waitMs: 120_000 });
  await syncAll(app.reconciler, { dryRun: false, concurrency: 32 });
  const service = await startService(app, { listen: false });
  // streaming has begun once a change reaches the consumer: an agreement's number is read by no
  // account's desired state, so the probe queues nothing
  const probe = await knex('agreements').first('agrm_id');
  for (let i = 0; !service.debezium?.stats().lastRecordAt; i++) {
    if (i > 300) throw new Error('the connector does not stream');
    await knex('agreements')
      .where({ agrm_id: probe.agrm_id })
      .update({ number: `bench-probe-${i}` });
    await new Promise((r) => setTimeout(r, 300));
  }

  const calls = async (since: number) => {
    const res = await fetch(`${sim.url}/_simulator/calls?since=${since}&limit=100000`);
    return (await res.json()) as { calls: CallRecord[]; lastSeq: number };
  };
  const onPlatform = new Set(
    (
      (await (await fetch(`${sim.url}/_simulator/accounts`)).json()) as {
        accounts: { username: string; archived: boolean }[];
      }
    ).accounts
      .filter((a) => !a.archived)
      .map((a) => a.username),
  );
  const rows: { vg_id: unknown; agrm_id: unknown; login: unknown }[] = await knex('vgroups')
    .where({ template: 0 })
    .select('vg_id', 'agrm_id', 'login');
  const accounts = rows
    .map((r) => ({
      vgId: Number(r.vg_id),
      agrmId: Number(r.agrm_id),
      username: `${PREFIX}${String(r.login)}`,
    }))
    .filter((a) => onPlatform.has(a.username));

  return {
    config,
    dialect,
    knex,
    app,
    service,
    simUrl: sim.url,
    accounts,
    calls,
    lastSeq: async () => (await calls(Number.MAX_SAFE_INTEGER)).lastSeq,
    async close() {
      await service.stop();
      await uninstallConnector(config, app.knex).catch(() => undefined);
      if (dialect === 'pg')
        for (const s of await ownSlots(app.knex, debeziumNames(config.state.tablePrefix)))
          await dropSlot(app.knex, s.name);
      await app.close();
      sim.child.kill('SIGTERM');
      await knex.destroy();
      await dropDb(dialect, name);
      const admin = new Kafka({
        clientId: 'bench-cleanup',
        brokers: [BROKER],
        logLevel: logLevel.NOTHING,
      }).admin();
      await admin.connect();
      const mine = (await admin.listTopics()).filter(
        (t) => t.startsWith(`${prefix}.`) || t.endsWith(`.${prefix}`),
      );
      if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
      await admin.deleteGroups([prefix, `${prefix}-schemahistory`]).catch(() => undefined);
      await admin.disconnect();
    },
  };
}
