// The propagation benchmark's rig: a fresh billing database with generated accounts (migrated,
// triggers installed), the simulator in its own process (its CPU isn't the service's), the service
// started in-process as `run` starts it, after an initial sync so that every later change costs
// only its own calls. Also the simulator's recorded calls, read through its control API.
import { type ChildProcess, spawn } from 'node:child_process';
import type { Knex } from 'knex';
import { type App, createApp } from '../../src/app.js';
import type { Dialect } from '../../src/billing/connect.js';
import { parseConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { syncAll } from '../../src/reconcile/sync.js';
import { type RunningService, startService } from '../../src/service.js';
import type { CallRecord } from '../../src/smotreshka/simulator/index.js';
import { dropDb, freePort, freshBillingDb } from '../support.js';

export const PREFIX = 'b_';

export interface BenchAccount {
  vgId: number;
  agrmId: number;
  username: string;
}

export interface Rig {
  dialect: Dialect;
  knex: Knex;
  app: App;
  service: RunningService;
  simUrl: string;
  /** accounts that exist on the platform, one vgroup per agreement */
  accounts: BenchAccount[];
  calls(since: number): Promise<{ calls: CallRecord[]; lastSeq: number }>;
  lastSeq(): Promise<number>;
  close(): Promise<void>;
}

async function startSimulator(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'simulator', '--port', String(port)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('platform simulator')) resolve();
    });
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

export async function startRig(
  dialect: Dialect,
  count: number,
  extra: { queue?: object; capture?: object } = {},
): Promise<Rig> {
  // per process: two benchmarks on one shared machine must not drop each other's database
  const name = `lifestream_bench_prop_${dialect}_${process.pid}`;
  const { url, knex } = await freshBillingDb(dialect, name, count);
  const sim = await startSimulator();
  const config = parseConfig({
    billing: { client: dialect, connection: url, pool: { min: 0, max: 24 } },
    smotreshka: { url: sim.url, usernamePrefix: PREFIX, concurrency: 64, retries: 2 },
    // the reader's own adaptive poll (capture.pollIntervalMs at its default) on both databases
    capture: { ...extra.capture },
    queue: { concurrency: 48, ...extra.queue },
  });
  const app = await createApp(config, silentLogger, { extraConnections: 4 });
  await syncAll(app.reconciler, { dryRun: false, concurrency: 32 });
  const service = await startService(app, { listen: false });

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
      await app.close();
      sim.child.kill('SIGTERM');
      await knex.destroy();
      await dropDb(dialect, name);
    },
  };
}

/** Waits until the queue and the change log are empty and nothing runs. */
export async function drained(rig: Rig, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const [log, pending] = await Promise.all([rig.service.changelog.count(), rig.service.pending.count()]);
    if (log === 0 && pending === 0 && rig.service.queue.stats().inFlight === 0) return;
    if (Date.now() > end)
      throw new Error(`not drained after ${timeoutMs} ms: ${log} changes, ${pending} queued`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
