// The platform scan: every `smotreshka.scanIntervalSeconds`, read the platform's accounts page by
// page, find what was changed there (platform-changes.ts decides), and act on it by policy.
//
// Brakes against a platform glitch:
// - A page that fails (after the client's retries) or comes back short ends the reading: accounts
//   on pages not read are not compared at all, so an error is never taken for "no subscriptions".
// - A change is acted on only when two consecutive scans saw it (<prefix>platform_seen keeps the
//   first sighting across restarts).
// - If one scan would change more than `scanMaxChangeShare` of the accounts it saw, it writes
//   nothing, logs a warning and keeps the list for the operator, who looks at it with
//   `sync --from-platform --dry-run` and applies it with `--apply` (mode 'apply': one sighting,
//   no share brake: the operator is the second look).

import type { Knex } from 'knex';
import pLimit from 'p-limit';
import type { BillingClock } from '../billing/clock.js';
import { billingRefusal } from '../billing/errors.js';
import { TariffCategoryCache } from '../billing/offers.js';
import { billingReader } from '../billing/read.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { AccountIdMode, PlatformApi } from '../smotreshka/api.js';
import { PlatformSeenStore, type SeenAccount } from '../state/platform-seen.js';
import type { StateStore } from '../state/store.js';
import {
  type AccountObservation,
  decidePlatformChanges,
  isWrite,
  type PlatformChange,
  type PlatformChangesPolicy,
  pendingOf,
} from './platform-changes.js';
import { resolveOwners, type SeenOnPlatform } from './platform-owners.js';
import { type Found, writeBack } from './platform-writeback.js';

export interface PlatformScanOptions {
  policy: PlatformChangesPolicy;
  idMode: AccountIdMode;
  usernamePrefix: string;
  emailTemplate: string;
  /** `GET /v2/accounts` page size (-1 = all in one answer) */
  pageSize: number;
  /** share of the accounts seen that one scan may change before it counts as suspicious */
  maxChangeShare: number;
  /** accounts written at once */
  concurrency?: number;
}

export interface PlatformScanDeps {
  knex: Knex;
  /** the billing's wall clock: every DATETIME read or written (billing/clock.ts) */
  clock: BillingClock;
  store: StateStore;
  seen: PlatformSeenStore;
  platform: PlatformApi;
  logger: Logger;
  options: PlatformScanOptions;
  now?: () => Date;
}

/** The scan as the configuration sets it up (`run`, `sync --from-platform`). */
export function platformScanDeps(
  config: Config,
  parts: { knex: Knex; clock: BillingClock; store: StateStore; platform: PlatformApi; logger: Logger },
  policy: PlatformChangesPolicy = config.smotreshka.platformChanges,
): PlatformScanDeps & { intervalMs: number } {
  const s = config.smotreshka;
  return {
    ...parts,
    seen: new PlatformSeenStore(parts.knex, config.state.tablePrefix),
    options: {
      policy,
      idMode: s.accountIdMode,
      usernamePrefix: s.usernamePrefix,
      emailTemplate: s.emailTemplate,
      pageSize: s.pageSize,
      maxChangeShare: s.scanMaxChangeShare,
      concurrency: s.concurrency,
    },
    intervalMs: s.scanIntervalSeconds * 1000,
  };
}

/**
 * periodic: the scan `run` makes (numbered, remembered, two sightings, share brake);
 * dry-run: the operator's look, writes nothing; apply: the operator's decision, acts on every change.
 */
export type ScanMode = 'periodic' | 'dry-run' | 'apply';

export interface AccountChanges {
  platformId: string;
  username: string;
  vgId: number | null;
  changes: PlatformChange[];
}

export interface ScanReport {
  mode: ScanMode;
  policy: PlatformChangesPolicy;
  /** periodic scans only */
  scanNo: number | null;
  /** every page was read */
  complete: boolean;
  /** why reading stopped early */
  stopped: { page: number; reason: string } | null;
  pages: number;
  /** platform accounts compared (our username prefix, fully read) */
  accounts: number;
  /** platform accounts without our username prefix: not ours to judge */
  skipped: number;
  /** accounts with anything to report or do */
  found: AccountChanges[];
  /** accounts with a change to write, acted on now or waiting for its second sighting */
  changing: number;
  /** the most accounts this scan may change */
  allowed: number;
  suspicious: boolean;
  written: { accounts: number; closed: number; assigned: number; enabled: number; disabled: number };
  errors: { username: string; vgId: number | null; message: string }[];
  durationMs: number;
}

/** Reads what a stop request should interrupt between pages. */
export interface StopSignal {
  stopped: boolean;
}

export async function scanPlatform(
  deps: PlatformScanDeps,
  mode: ScanMode = 'periodic',
  signal: StopSignal = { stopped: false },
): Promise<ScanReport> {
  const started = Date.now();
  const now = deps.now ?? (() => new Date());
  const { options: o, logger } = deps;
  const report: ScanReport = {
    mode,
    policy: o.policy,
    scanNo: null,
    complete: false,
    stopped: null,
    pages: 0,
    accounts: 0,
    skipped: 0,
    found: [],
    changing: 0,
    allowed: 0,
    suspicious: false,
    written: { accounts: 0, closed: 0, assigned: 0, enabled: 0, disabled: 0 },
    errors: [],
    durationMs: 0,
  };
  // periodic: this scan's number, compared with the sightings; operator modes: the last periodic
  // scan's, so the list says which changes the next scan would act on
  let scanNo: number;
  if (mode === 'periodic') {
    scanNo = await deps.seen.beginScan(now());
    report.scanNo = scanNo;
  } else {
    scanNo = ((await deps.seen.lastScans(1))[0]?.scanNo ?? 0) + 1;
  }
  try {
    const found = await readAndCompare(deps, mode, scanNo, signal, report);
    report.changing = found.filter((f) => f.changes.some(isWrite)).length;
    report.allowed = Math.max(1, Math.floor(o.maxChangeShare * report.accounts));
    report.suspicious = mode === 'periodic' && report.changing > report.allowed;
    if (report.suspicious) warnSuspicious(deps, report);
    else if (mode !== 'dry-run' && !signal.stopped) await act(deps, found, mode, report, now);
    logNewReports(logger, report);
  } catch (err) {
    // the database went away mid-scan, say: the scan's row says so, the next scan starts afresh
    if (mode === 'periodic')
      await finish(deps, scanNo, now(), report, { error: (err as Error).message }).catch(() => undefined);
    throw err;
  }
  report.durationMs = Date.now() - started;
  if (mode === 'periodic')
    await finish(deps, scanNo, now(), report, report.suspicious ? { found: report.found } : report.stopped);
  return report;
}

function finish(
  deps: PlatformScanDeps,
  scanNo: number,
  at: Date,
  r: ScanReport,
  detail: unknown,
): Promise<void> {
  return deps.seen.finishScan(scanNo, at, {
    complete: r.complete,
    accounts: r.accounts,
    changing: r.changing,
    suspicious: r.suspicious,
    detail,
  });
}

/**
 * Reads the platform page by page and compares every account on a fully read page; stops at the
 * first page that fails or comes back short. Periodic scans remember what each account left pending.
 */
async function readAndCompare(
  deps: PlatformScanDeps,
  mode: ScanMode,
  scanNo: number,
  signal: StopSignal,
  report: ScanReport,
): Promise<Found[]> {
  const { options: o, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const owners = {
    billing: billingReader(deps.knex, deps.clock),
    store: deps.store,
    usernamePrefix: o.usernamePrefix,
    desired: o,
  };
  const categories = new TariffCategoryCache(deps.knex);
  const found: Found[] = [];

  for (let page = 0; ; page++) {
    if (signal.stopped) {
      report.stopped = { page, reason: 'the service is stopping' };
      break;
    }
    let res: Awaited<ReturnType<PlatformApi['listAccounts']>>;
    try {
      res = await deps.platform.listAccounts(page, o.pageSize);
    } catch (err) {
      report.stopped = { page, reason: (err as Error).message };
      logger.warn(
        { scanNo: report.scanNo, page, err: (err as Error).message },
        'platform scan stopped: a page could not be read; accounts on it and after it are not compared',
      );
      break;
    }
    report.pages++;
    const seenAt = now();
    const pages = res.pagination?.pages ?? 1;
    // An account listed without its subscriptions tells nothing about them: not ours to judge now.
    const ours = res.accounts.filter(
      (a) => a.username.startsWith(o.usernamePrefix) && !a.subscriptionsUnknown,
    );
    report.skipped += res.accounts.length - ours.length;
    const seen: SeenOnPlatform[] = ours.map((a) => ({
      id: a.id,
      username: a.username,
      subscriptions: a.subscriptions.map((s) => String(s.id)).sort(),
    }));
    const resolved = await resolveOwners(owners, seen, seenAt, categories);
    const sightings = await deps.seen.previous(seen.map((s) => s.id));
    const remembered: SeenAccount[] = [];
    for (const r of resolved) {
      const sighting = sightings.get(r.platform.id);
      const observation: AccountObservation = {
        platformId: r.platform.id,
        username: r.platform.username,
        owner: r.owner,
        applied: r.record?.subscriptions ?? null,
        platform: r.platform.subscriptions,
        previous: sighting && sighting.scanNo === scanNo - 1 ? sighting.pending : null,
        seenAt,
      };
      const changes = decidePlatformChanges(observation, o.policy);
      remembered.push({
        platformId: r.platform.id,
        vgId: r.account?.vgId ?? null,
        username: r.platform.username,
        pending: pendingOf(changes),
      });
      if (changes.length === 0) continue;
      found.push({ resolved: r, observation, changes });
      report.found.push({
        platformId: r.platform.id,
        username: r.platform.username,
        vgId: r.account?.vgId ?? null,
        changes,
      });
    }
    report.accounts += seen.length;
    if (mode === 'periodic') await deps.seen.record(scanNo, seenAt, remembered);

    const last = o.pageSize === -1 || page + 1 >= pages || res.accounts.length === 0;
    if (!last && res.accounts.length < o.pageSize) {
      // a short page in the middle: the listing shifted or was cut; what follows can't be trusted
      report.stopped = {
        page: page + 1,
        reason: `page ${page} had ${res.accounts.length} of ${o.pageSize} accounts`,
      };
      logger.warn(
        { scanNo: report.scanNo, page, accounts: res.accounts.length, pageSize: o.pageSize },
        'platform scan stopped: a short page',
      );
      break;
    }
    if (last) {
      report.complete = true;
      break;
    }
  }

  return found;
}

async function act(
  deps: PlatformScanDeps,
  found: Found[],
  mode: ScanMode,
  report: ScanReport,
  now: () => Date,
): Promise<void> {
  const chosen = (c: PlatformChange) => isWrite(c) && (mode === 'apply' || c.due);
  const o = deps.options;
  const wb = {
    knex: deps.knex,
    clock: deps.clock,
    store: deps.store,
    platform: deps.platform,
    idMode: o.idMode,
    desired: o,
    policy: o.policy,
    logger: deps.logger,
    now,
  };
  const limit = pLimit(o.concurrency ?? 8);
  await Promise.all(
    found
      .filter((f) => f.changes.some(chosen))
      .map((f) =>
        limit(async () => {
          try {
            const r = await writeBack(wb, f, chosen);
            const n = {
              closed: r.closed.length,
              assigned: r.assigned.length,
              enabled: r.enabled.length,
              disabled: r.disabled.length,
            };
            if (n.closed + n.assigned + n.enabled + n.disabled > 0) report.written.accounts++;
            report.written.closed += n.closed;
            report.written.assigned += n.assigned;
            report.written.enabled += n.enabled;
            report.written.disabled += n.disabled;
          } catch (err) {
            const e = {
              username: f.resolved.platform.username,
              vgId: f.resolved.account?.vgId ?? null,
              message: (err as Error).message,
            };
            report.errors.push(e);
            // the billing refused the write for good (a constraint, a bad value): trying again at
            // every scan changes nothing; the account is parked with the database's words
            const refusal = billingRefusal(err);
            if (refusal && e.vgId !== null) {
              await deps.store.park(e.vgId, 'billing_refused', refusal, 'platform scan');
              deps.logger.warn(
                { ...e, refusal },
                'the billing refused a platform-side change: account parked',
              );
            } else
              deps.logger.warn(e, 'platform-side change could not be acted on; the next scan tries again');
          }
        }),
      ),
  );
}

function warnSuspicious(deps: PlatformScanDeps, r: ScanReport): void {
  const examples = r.found
    .filter((f) => f.changes.some(isWrite))
    .slice(0, 10)
    .map((f) => `${f.username}: ${f.changes.filter(isWrite).map(describeChange).join(', ')}`);
  deps.logger.warn(
    {
      scanNo: r.scanNo,
      accounts: r.accounts,
      changing: r.changing,
      allowed: r.allowed,
      maxChangeShare: deps.options.maxChangeShare,
      examples,
    },
    `suspicious platform scan: it would change ${r.changing} of ${r.accounts} accounts (more than ${(deps.options.maxChangeShare * 100).toFixed(1)} %); ` +
      'nothing was written. Review with `lbcore-lifestream sync --from-platform --dry-run`, apply with `--apply`',
  );
}

/** Reports are logged once, at the first sighting: the scan repeats every few minutes. */
function logNewReports(logger: Logger, r: ScanReport): void {
  for (const f of r.found) {
    const fresh = f.changes.filter((c) => c.action === 'report' && !c.due);
    if (fresh.length === 0) continue;
    logger.info(
      { username: f.username, vgId: f.vgId, changes: fresh.map(describeChange) },
      'platform-side change reported, not acted on',
    );
  }
}

export function describeChange(c: PlatformChange): string {
  const what = c.seen === 'switched_off' ? 'switched off' : 'switched on';
  const todo: Record<PlatformChange['action'], string> = {
    close: 'close the service in the billing',
    assign: `assign it in the billing${c.category ? ` (tariff ${c.category.tarId}, category ${c.category.servCatIdx})` : ''}`,
    enable: 'enable it again on the platform',
    disable: 'disable it on the platform',
    report: 'report only',
  };
  return `${c.subscriptionId} ${what} (${c.reason.replaceAll('_', ' ')}): ${todo[c.action]}${c.due ? '' : ', waiting for a second sighting'}`;
}

/**
 * Runs the periodic scan until stopped: the first one `scanIntervalSeconds` after the start (the
 * propagation that starts with it settles first), each next one that long after the previous ended.
 */
export function startPlatformScan(deps: PlatformScanDeps & { intervalMs: number }): {
  stop(): Promise<void>;
} {
  const signal: StopSignal = { stopped: false };
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> = Promise.resolve();
  const schedule = () => {
    if (signal.stopped) return;
    timer = setTimeout(() => {
      timer = null;
      running = scanPlatform(deps, 'periodic', signal)
        .then((r) => {
          deps.logger.info(
            {
              scanNo: r.scanNo,
              accounts: r.accounts,
              complete: r.complete,
              changing: r.changing,
              written: r.written,
              errors: r.errors.length,
              ms: r.durationMs,
            },
            'platform scan done',
          );
        })
        .catch((err: unknown) =>
          deps.logger.error(
            { err: (err as Error).message },
            'platform scan failed; the next one runs on schedule',
          ),
        )
        .finally(schedule);
    }, deps.intervalMs);
    timer.unref?.();
  };
  schedule();
  return {
    async stop() {
      signal.stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
