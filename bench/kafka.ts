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
import { measureDebeziumThroughput } from './kafka/throughput.js';
import { type LatencyResult, measureLatency } from './propagation/latency.js';
import { startRig } from './propagation/rig.js';

const ACCOUNTS = 5_000;
const RATE = 200;
const SECONDS = 15;
const asked = process.argv.slice(2).filter((a): a is Dialect => a === 'pg' || a === 'mysql');
const dialects: Dialect[] = asked.length > 0 ? asked : ['pg', 'mysql'];
const log = (msg: string) => process.stderr.write(`[bench kafka] ${msg}\n`);
const ratio = (a: number, b: number) => Math.round((a / b) * 10) / 10;

const results: Record<string, unknown> = {
  machine: { cpus: cpus().length, node: process.version },
  generatedAccounts: ACCOUNTS,
};
const problem = await stackProblem();
if (problem) {
  results.skipped = `${problem}: start it with \`npm run stack:start\``;
} else {
  for (const dialect of dialects) {
    const r: Record<string, unknown> = {};
    try {
      log(`${dialect}: debezium mode, ${ACCOUNTS} accounts, connector, initial sync`);
      const dz = await startDebeziumRig(dialect, ACCOUNTS);
      let debezium: LatencyResult;
      try {
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
