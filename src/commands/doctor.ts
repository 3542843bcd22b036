// `doctor`: the vendor's "first diagnostics" after installing and configuring the module.
import type { Command } from 'commander';
import { createApp } from '../app.js';
import { runDoctor } from '../ops/doctor.js';
import { configAndLogger } from './common.js';

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

export function registerDoctor(program: Command) {
  program
    .command('doctor')
    .description(
      'check the configuration, the billing database and its clock, the platform and the service mapping; exit 1 if anything fails',
    )
    .option('--json', 'print the checks as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { config, logger } = configAndLogger(cmd);
      // doctor reports an unreachable billing database instead of failing on it
      const app = await createApp(config, logger, { billingMayBeDown: true });
      try {
        const checks = await runDoctor(app);
        if (opts.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
        else for (const c of checks) process.stdout.write(`[${MARK[c.status]}] ${c.name}: ${c.detail}\n`);
        process.exitCode = checks.some((c) => c.status === 'fail') ? 1 : 0;
      } finally {
        await app.close();
      }
    });
}
