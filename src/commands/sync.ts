// `sync`: the vendor's manual synchronisation, billing → platform. Dry-run lists every
// discrepancy and changes nothing; a real run converges and reports what is left. Changes made on
// the platform itself are listed apart; `--from-platform` deals with that direction (platform →
// billing): it lists them (`--dry-run`) or acts on them by policy (`--apply`).
import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { createApp } from '../app.js';
import { TariffCategoryCache } from '../billing/offers.js';
import { billingReader } from '../billing/read.js';
import type { PlatformChangesPolicy } from '../reconcile/platform-changes.js';
import { platformScanDeps, scanPlatform } from '../reconcile/platform-scan.js';
import { type SyncReport, syncAccounts, syncAll } from '../reconcile/sync.js';
import { configAndLogger } from './common.js';
import { renderScanReport } from './platform-report.js';
import { renderReport } from './report.js';

function collectInt(value: string, prev: number[] = []): number[] {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a vg_id (a positive integer)`);
  return [...prev, n];
}

function collect(value: string, prev: string[] = []): string[] {
  return [...prev, value];
}

export function registerSync(program: Command) {
  program
    .command('sync')
    .description(
      'bring the platform in line with the billing for some accounts or all (the manual synchronisation); ' +
        'exit code 0 = in sync, 1 = discrepancies or errors remain, 2 = bad usage or configuration',
    )
    .option('-a, --account <vg_id>', 'an account by vgroups.vg_id (repeatable)', collectInt)
    .option('-l, --login <login>', 'an account by vgroups.login (repeatable; every agent\'s vgroup with that login)', collect)
    .option('--all', 'every account of the billing, against one full read of the platform')
    .option('-n, --dry-run', 'report the discrepancies, change nothing')
    .option(
      '--from-platform',
      'the other direction: list (--dry-run) or take over (--apply) what was changed on the platform itself, ' +
        'as the platform scan would, but at once: one look is enough and no share brake applies',
    )
    .option('--apply', 'with --from-platform: act on every platform-side change by policy')
    .option('--policy <policy>', 'with --from-platform: mirror | revert | report instead of smotreshka.platformChanges', (v) => {
      if (v !== 'mirror' && v !== 'revert' && v !== 'report') throw new InvalidArgumentError('must be mirror, revert or report');
      return v as PlatformChangesPolicy;
    })
    .option('--json', 'print the report as JSON')
    .option('--concurrency <n>', 'accounts reconciled at once (default: smotreshka.concurrency)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
      return n;
    })
    .action(async (opts: SyncFlags, cmd: Command) => {
      if (opts.fromPlatform) return fromPlatform(opts, cmd);
      if (opts.apply || opts.policy) cmd.error('--apply and --policy go with --from-platform', { exitCode: 2 });
      const chosen = [opts.account?.length, opts.login?.length, opts.all].filter(Boolean).length;
      if (chosen !== 1) cmd.error('choose exactly one of --account, --login or --all', { exitCode: 2 });
      const { config, logger } = configAndLogger(cmd);
      const app = await createApp(config, logger);
      let report: SyncReport;
      try {
        const base = {
          dryRun: opts.dryRun ?? false,
          concurrency: opts.concurrency ?? config.smotreshka.concurrency,
          platformPageSize: config.smotreshka.pageSize,
          categories: new TariffCategoryCache(app.knex),
        };
        if (opts.all) {
          const bar = process.stderr.isTTY && !opts.json ? new SingleBar({ format: 'sync |{bar}| {value}/{total} accounts  {eta_formatted} left', stream: process.stderr, hideCursor: true }) : null;
          bar?.start(0, 0);
          try {
            report = await syncAll(app.reconciler, { ...base, onProgress: (done, total) => { bar?.setTotal(total); bar?.update(done); } });
          } finally {
            bar?.stop();
          }
        } else {
          let vgIds = opts.account ?? [];
          if (opts.login?.length) {
            const byLogin = await billingReader(app.knex, app.clock).vgIdsByLogin(opts.login);
            const missing = opts.login.filter((l) => !byLogin.get(l)?.length);
            if (missing.length) cmd.error(`no account with login ${missing.map((m) => `"${m}"`).join(', ')} in the billing`, { exitCode: 2 });
            vgIds = opts.login.flatMap((l) => byLogin.get(l) ?? []);
          }
          report = await syncAccounts(app.reconciler, vgIds, base);
        }
      } finally {
        await app.close();
      }
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
      process.exitCode = report.remainingCount > 0 ? 1 : 0;
    });
}

interface SyncFlags {
  account?: number[];
  login?: string[];
  all?: boolean;
  dryRun?: boolean;
  json?: boolean;
  concurrency?: number;
  fromPlatform?: boolean;
  apply?: boolean;
  policy?: PlatformChangesPolicy;
}

/**
 * `sync --from-platform`: one pass of the platform scan on the operator's say-so. Exit code 0 =
 * nothing differs (any more), 1 = changes listed, left reported only, errors or pages not read,
 * 2 = bad usage.
 */
async function fromPlatform(opts: SyncFlags, cmd: Command): Promise<void> {
  if (Boolean(opts.dryRun) === Boolean(opts.apply)) cmd.error('--from-platform needs exactly one of --dry-run or --apply', { exitCode: 2 });
  if (opts.account?.length || opts.login?.length || opts.all) cmd.error('--from-platform reads every platform account: no --account, --login or --all', { exitCode: 2 });
  const { config, logger } = configAndLogger(cmd);
  const app = await createApp(config, logger);
  try {
    const report = await scanPlatform(
      platformScanDeps(config, { knex: app.knex, clock: app.clock, store: app.store, platform: app.platform, logger }, opts.policy),
      opts.apply ? 'apply' : 'dry-run',
    );
    process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderScanReport(report));
    // what is still different afterwards: errors, pages not read, and what the policy only reports
    const reportedOnly = report.found.some((f) => f.changes.some((c) => c.action === 'report'));
    const left = !report.complete || report.errors.length > 0 || (opts.apply ? reportedOnly : report.found.length > 0);
    process.exitCode = left ? 1 : 0;
  } finally {
    await app.close();
  }
}
