// `npx tsx bench/kafka.ts [pg|mysql ...]`: Debezium-mode figures, printed as ONE JSON line, the
// last on stdout (bench/run.ts collects it). Per database, in the same run and on the same data
// size: change committed → platform call latency at 200 changes/s in debezium mode and in trigger
// mode (bench/propagation's rig and latency measure), their ratio, and debezium mode's sustained
// changes per second. Needs the databases and the local Kafka stack (`npm run stack:start`);
// without the stack it prints {"skipped": ...}. Asserts nothing; the design's target is
// debezium p99 <= 1 s.
import { cpus } from 'node:os';
import type { Dialect } from '../src/billing/connect.js';
import { stackProblem } from '../test/support/stack.js';
import { startDebeziumRig } from './kafka/rig.js';
import { measureTakeover } from './kafka/takeover.js';
import { measureDebeziumThroughput } from './kafka/throughput.js';
import { type LatencyResult, measureLatency } from './propagation/latency.js';
import { type Rig, startRig } from './propagation/rig.js';

const ACCOUNTS = 5_000;
const RATE = 200;
const SECONDS = 15;
const args = process.argv.slice(2);
const asked = args.filter((a): a is Dialect => a === 'pg' || a === 'mysql');
/** `takeover` alone: only the kill -9 / restart figures */
const onlyTakeover = args.includes('takeover');
const dialects: Dialect[] = asked.length > 0 ? asked : ['pg', 'mysql'];
const log = (msg: string) => process.stderr.write(`[bench kafka] ${msg}\n`);
const ratio = (a: number, b: number) => Math.round((a / b) * 10) / 10;

/**
 * A few seconds of the same load before measuring, on either rig: the first reconciles open the
 * pools' connections and warm the JIT, and the backlog they leave would be counted against the
 * mode measured first. Balances 5,000.01… never collide with the measured ones (7,000.01…).
 */
async function warmUp(rig: Rig, seconds = 3): Promise<void> {
  const n = RATE * seconds;
  const t0 = Date.now();
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / RATE - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const account = rig.accounts[(i * 7) % rig.accounts.length]!;
    writes.push(
      rig
        .knex('agreements')
        .where({ agrm_id: account.agrmId })
        .update({ balance: (5000.01 + i / 100).toFixed(2) })
        .then(() => undefined),
    );
  }
  await Promise.all(writes);
  const end = Date.now() + 60_000;
  await new Promise((r) => setTimeout(r, 1_000));
  while ((await rig.service.pending.count()) > 0 || rig.service.queue.stats().inFlight > 0) {
    if (Date.now() > end) throw new Error('warm-up load not drained in 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const results: Record<string, unknown> = {
  machine: { cpus: cpus().length, node: process.version },
  generatedAccounts: ACCOUNTS,
};
const problem = await stackProblem();
if (problem) {
  results.skipped = `${problem}: start it with \`npm run stack:start\``;
} else {
  // kill -9 and restart of `run` processes, per session timeout (the default is 10 s)
  const takeover: unknown[] = [];
  for (const sessionTimeoutMs of [6_000, 10_000, 30_000]) {
    log(`takeover and restart, sessionTimeoutMs ${sessionTimeoutMs}`);
    takeover.push(
      await measureTakeover(sessionTimeoutMs).catch((err: Error) => ({
        sessionTimeoutMs,
        error: err.message,
      })),
    );
  }
  results.takeover = takeover;
}
if (!problem && !onlyTakeover) {
  for (const dialect of dialects) {
    const r: Record<string, unknown> = {};
    try {
      log(`${dialect}: debezium mode, ${ACCOUNTS} accounts, connector, initial sync`);
      const dz = await startDebeziumRig(dialect, ACCOUNTS);
      let debezium: LatencyResult;
      try {
        await warmUp(dz);
        log(`${dialect}: debezium latency at ${RATE} changes/s`);
        debezium = await measureLatency(dz, RATE, SECONDS);
        log(`${dialect}: debezium throughput`);
        r.debeziumThroughput = await measureDebeziumThroughput(dz);
      } finally {
        await dz.close();
      }
      log(`${dialect}: trigger mode, same data size`);
      const tr = await startRig(dialect, ACCOUNTS);
      let triggers: LatencyResult;
      try {
        await warmUp(tr);
        log(`${dialect}: trigger latency at ${RATE} changes/s`);
        triggers = await measureLatency(tr, RATE, SECONDS);
      } finally {
        await tr.close();
      }
      r.debeziumLatency = debezium;
      r.triggerLatency = triggers;
      r.debeziumOverTriggers = {
        p50: ratio(debezium.p50Ms, triggers.p50Ms),
        p99: ratio(debezium.p99Ms, triggers.p99Ms),
      };
    } catch (err) {
      r.error = (err as Error).stack ?? String(err);
    }
    results[dialect] = r;
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);
process.exit(0);
