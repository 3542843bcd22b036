// `npx tsx bench/propagation.ts [pg|mysql ...]`: propagation figures in trigger mode, printed as
// JSON on the last line (bench/run.ts collects it). Per database: change committed → platform call
// latency at 200 changes/s, sustained account changes per second, reconciles for 1,000 changes to
// one account, the reader's CPU while idle, and the triggers' overhead on billing writes. Asserts nothing; see the design's
// targets. Needs the databases; the simulator runs in its own process.
import { cpus, loadavg } from 'node:os';
import type { Dialect } from '../src/billing/connect.js';
import { measureHotAccount } from './propagation/hot-account.js';
import { measureIdle } from './propagation/idle.js';
import { measureLatency } from './propagation/latency.js';
import { startRig } from './propagation/rig.js';
import { measureThroughput } from './propagation/throughput.js';
import { measureTriggerOverhead } from './propagation/trigger-overhead.js';

const ACCOUNTS = 10_000;
const asked = process.argv.slice(2).filter((a): a is Dialect => a === 'pg' || a === 'mysql');
const dialects: Dialect[] = asked.length > 0 ? asked : ['pg', 'mysql'];
const log = (msg: string) => process.stderr.write(`[bench propagation] ${msg}\n`);

// the load average says how much the machine was shared while measuring: on a busy box these
// figures move a lot from run to run
const results: Record<string, unknown> = {
  machine: {
    cpus: cpus().length,
    node: process.version,
    loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
  },
  generatedAccounts: ACCOUNTS,
};
for (const dialect of dialects) {
  log(`${dialect}: loading ${ACCOUNTS} accounts, migrating, initial sync`);
  const rig = await startRig(dialect, ACCOUNTS);
  try {
    const r: Record<string, unknown> = {
      accountsOnPlatform: rig.accounts.length,
      pollIntervalMs: rig.app.config.capture.pollIntervalMs,
    };
    log(`${dialect}: idle reader`);
    r.idle = await measureIdle(rig);
    log(`${dialect}: latency at 200 changes/s`);
    r.latency = await measureLatency(rig, 200, 15);
    log(`${dialect}: throughput`);
    r.throughput = await measureThroughput(rig);
    log(`${dialect}: 1,000 changes to one account`);
    r.hotAccount = [await measureHotAccount(rig, 1), await measureHotAccount(rig, 10)];
    log(`${dialect}: trigger overhead`);
    r.triggerOverhead = await measureTriggerOverhead(rig);
    results[dialect] = r;
  } catch (err) {
    results[dialect] = { error: (err as Error).stack ?? String(err) };
  } finally {
    await rig.close().catch((err: Error) => log(`close: ${err.message}`));
  }
}
(results.machine as Record<string, unknown>).loadAverageAtEnd = loadavg().map((x) => Number(x.toFixed(2)));
process.stdout.write(`${JSON.stringify(results)}\n`);
process.exit(0);
