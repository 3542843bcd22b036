// `sync --all` of N generated accounts against the simulator: the first run creates every
// platform account, the second finds everything in step. Figures: accounts/s and peak RSS of the
// sync process (the simulator runs in its own process).
import type { Dialect } from '../src/billing/connect.js';
import { dropDb, freshBillingDb, runCli, startSimulatorProcess, writeConfig } from './support.js';

export interface SyncFigures {
  dialect: Dialect;
  accounts: number;
  generateSeconds: number;
  first: RunFigures;
  second: RunFigures;
}

interface RunFigures {
  seconds: number;
  accountsPerSecond: number;
  peakRssMb: number;
  calls: Record<string, number>;
  exitCode: number;
}

export async function benchSync(dialect: Dialect, count: number): Promise<SyncFigures> {
  const name = `lifestream_bench_sync_${dialect}`;
  const { url, knex, loadMs } = await freshBillingDb(dialect, name, count);
  await knex.destroy();
  const sim = await startSimulatorProcess();
  try {
    const config = writeConfig(dialect, url, sim.url);
    const run = async (): Promise<RunFigures> => {
      const r = await runCli(['sync', '--all', '--json', '--config', config]);
      if (!r.stdout.trim()) throw new Error(`sync --all printed no report (exit ${r.code}): ${r.stderr.slice(-1500)}`);
      const report = JSON.parse(r.stdout) as { accounts: number; durationMs: number; calls: Record<string, number> };
      return {
        seconds: +(r.wallMs / 1000).toFixed(1),
        accountsPerSecond: Math.round(report.accounts / (r.wallMs / 1000)),
        peakRssMb: r.peakRssMb,
        calls: report.calls,
        exitCode: r.code,
      };
    };
    const first = await run();
    const second = await run();
    return { dialect, accounts: count, generateSeconds: +(loadMs / 1000).toFixed(1), first, second };
  } finally {
    await sim.stop();
    await dropDb(dialect, name);
  }
}
