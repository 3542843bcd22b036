// `sync`: the vendor's manual synchronisation, billing → platform. The whole-base path reads the
// platform's account list once and the billing page by page, so 100,000 accounts cost a few
// hundred queries and only the calls that change something; the per-account path reconciles the
// named accounts one by one. What was switched off on the platform is restored (the vendor's case:
// "in force in the billing, not active on the platform"); what was switched on there is left to the
// platform scan unless the policy is `revert`. Both kinds are listed apart (direction
// `platform_side`) when the caller passes the tariffs' categories.
import pLimit from 'p-limit';
import type { TariffCategory, TariffCategoryCache } from '../billing/offers.js';
import type { AccountState } from '../billing/types.js';
import { isTransient } from '../smotreshka/errors.js';
import type { AccountRecord } from '../state/store.js';
import { applicableTariffs } from '../upsale/decide.js';
import { type AccountOutcome, applyAccount, sharedUsername } from './apply.js';
import type { DesiredAccount } from './desired.js';
import { type Discrepancy, type DiscrepancyKind, discrepancy } from './discrepancy.js';
import { type ActualAccount, simulatePlan } from './plan.js';
import { platformSideFor } from './platform-changes.js';
import { platformSideDiscrepancies } from './platform-report.js';
import type { Reconciler } from './reconciler.js';

export interface SyncOptions {
  dryRun: boolean;
  /** accounts reconciled at once (each account's calls stay in order) */
  concurrency: number;
  /** billing page size for the whole-base path */
  pageSize?: number;
  /** platform page size for `GET /v2/accounts` */
  platformPageSize?: number;
  onProgress?: (done: number, total: number) => void;
  /** how many discrepancy lines to keep for the report (counts are always complete) */
  keep?: number;
  /** the tariffs' TV categories: given, the report also lists changes made on the platform itself */
  categories?: TariffCategoryCache;
}

export interface SyncReport {
  dryRun: boolean;
  accounts: number;
  /** accounts where something differed before the run */
  differing: number;
  /** accounts changed by this run */
  changed: number;
  calls: { create: number; enable: number; disable: number; state: number };
  /** counts of what differed before the run, by kind */
  found: Partial<Record<DiscrepancyKind, number>>;
  /** what still differs after the run (dry-run: everything found) */
  remaining: Discrepancy[];
  remainingCount: number;
  errors: number;
  parked: number;
  durationMs: number;
}

function emptyReport(dryRun: boolean): SyncReport {
  return {
    dryRun,
    accounts: 0,
    differing: 0,
    changed: 0,
    calls: { create: 0, enable: 0, disable: 0, state: 0 },
    found: {},
    remaining: [],
    remainingCount: 0,
    errors: 0,
    parked: 0,
    durationMs: 0,
  };
}

class Tally {
  readonly report: SyncReport;
  constructor(
    dryRun: boolean,
    private readonly keep: number,
  ) {
    this.report = emptyReport(dryRun);
  }
  add(o: AccountOutcome, platformSide: Discrepancy[] = []) {
    const r = this.report;
    r.accounts++;
    if (o.found.length || platformSide.length) r.differing++;
    for (const d of platformSide) {
      r.found[d.kind] = (r.found[d.kind] ?? 0) + 1;
      this.remain(d);
    }
    if (o.made.length) r.changed++;
    for (const d of o.found) r.found[d.kind] = (r.found[d.kind] ?? 0) + 1;
    for (const c of o.made) r.calls[c.op]++;
    if (o.park) r.parked++;
    for (const d of o.remaining) this.remain(d);
  }
  remain(d: Discrepancy) {
    const r = this.report;
    if (d.kind === 'error') r.errors++;
    r.remainingCount++;
    if (r.remaining.length < this.keep) r.remaining.push(d);
  }
}

/** Reconciles every account of the billing against one full read of the platform. */
export async function syncAll(r: Reconciler, opts: SyncOptions): Promise<SyncReport> {
  const started = Date.now();
  const { platform, billing, store, options, logger } = r.deps;
  const tally = new Tally(opts.dryRun, opts.keep ?? 100_000);
  const limit = pLimit(opts.concurrency);
  const pageSize = opts.pageSize ?? 1000;

  const platformAccounts = await readPlatform(r, opts.platformPageSize ?? 1000);
  /** platform account id → the vg_id that claimed it in this run */
  const claimed = new Map<string, number>();
  const total = await billing.countAccounts();
  const parked = opts.dryRun ? new Set<number>() : await store.parkedIds();
  const catalogue = await r.catalogue();
  const ctx = {
    platform,
    idMode: options.idMode,
    catalogue,
    now: () => r.now().getTime(),
    logger,
    dryRun: opts.dryRun,
    platformSide: platformSideFor(r.policy, 'sync'),
  };

  let after = 0;
  let at = r.now();
  let next = billing.pageAccounts(after, pageSize, at);
  // Pages overlap: the next page's accounts start as soon as the limiter has room, so one slow
  // account doesn't idle the others; at most two pages are in memory at once.
  let previous: Promise<void> = Promise.resolve();
  for (;;) {
    const page = await next;
    if (page.length === 0) break;
    after = page[page.length - 1]!.vgId;
    const pageAt = r.now();
    at = pageAt;
    next = billing.pageAccounts(after, pageSize, at); // read ahead while this page's calls run
    const records = await store.getMany(page.map((a) => a.vgId));
    const categoriesByTariff = await opts.categories?.of(page.flatMap((a) => applicableTariffs(a, pageAt)));
    const outcomes = Promise.all(
      page.map((account) =>
        limit(async () => {
          const desired = r.desired(account, pageAt);
          const record = records.get(account.vgId) ?? null;
          const p =
            (record?.platformId ? platformAccounts.byId.get(record.platformId) : undefined) ??
            (desired.entitled ? platformAccounts.byUsername.get(desired.username) : undefined);
          if (p) {
            const owner = claimed.get(p.id);
            if (owner !== undefined && owner !== account.vgId)
              return { o: sharedUsername(account.vgId, desired.username, owner), side: [] };
            claimed.set(p.id, account.vgId);
          }
          const actual: ActualAccount | null = p ? { id: p.id, subscriptions: p.subscriptions } : null;
          try {
            const o = await applyAccount(ctx, desired, record, actual);
            const side = categoriesByTariff ? platformSideAfter(r, opts, account, desired, record, o, categoriesByTariff, pageAt) : [];
            return { o, side };
          } catch (err) {
            if (!isTransient(err)) throw err;
            const o: AccountOutcome = {
              vgId: account.vgId,
              username: desired.username,
              found: [],
              made: [],
              remaining: [discrepancy(account.vgId, desired.username, 'error', (err as Error).message)],
              record: null,
              park: null,
            };
            return { o, side: [] };
          }
        }),
      ),
    );
    const done = previous.then(async () => {
      const list = await outcomes;
      if (!opts.dryRun)
        await persist(
          r,
          list.map((x) => x.o),
          parked,
        );
      for (const { o, side } of list) tally.add(o, side);
      opts.onProgress?.(tally.report.accounts, Math.max(total, tally.report.accounts));
    });
    await previous; // keeps at most two pages in flight
    previous = done;
  }
  await previous;
  await next.catch(() => undefined);

  // Platform accounts that no billing account claims: reported, never touched.
  const prefix = options.usernamePrefix;
  for (const p of platformAccounts.byId.values()) {
    if (claimed.has(p.id) || !p.username.startsWith(prefix)) continue;
    const subs = p.subscriptions.length ? `active: ${p.subscriptions.join(', ')}` : 'no subscriptions';
    const d = discrepancy(null, p.username, 'platform_only_account', `no billing account has this username (${subs})`);
    tally.report.found.platform_only_account = (tally.report.found.platform_only_account ?? 0) + 1;
    tally.remain(d);
  }
  tally.report.durationMs = Date.now() - started;
  return tally.report;
}

/** Reconciles the named accounts one by one (`sync --account/--login`). */
export async function syncAccounts(r: Reconciler, vgIds: number[], opts: SyncOptions): Promise<SyncReport> {
  const started = Date.now();
  const tally = new Tally(opts.dryRun, opts.keep ?? 100_000);
  const limit = pLimit(opts.concurrency);
  await Promise.all(
    vgIds.map((vgId) =>
      limit(async () => {
        try {
          const at = r.now();
          const [account, record] = opts.categories
            ? await Promise.all([r.deps.billing.loadAccount(vgId, at), r.deps.store.get(vgId)])
            : [null, null];
          const o = await r.reconcile(vgId, { dryRun: opts.dryRun, purpose: 'sync' });
          let side: Discrepancy[] = [];
          if (account && opts.categories) {
            const byTariff = await opts.categories.of(applicableTariffs(account, at));
            side = platformSideAfter(r, opts, account, r.desired(account, at), record, o, byTariff, at);
          }
          tally.add(o, side);
        } catch (err) {
          if (!isTransient(err)) throw err;
          tally.report.accounts++;
          tally.remain(discrepancy(vgId, '', 'error', (err as Error).message));
        }
        opts.onProgress?.(tally.report.accounts, vgIds.length);
      }),
    ),
  );
  tally.report.durationMs = Date.now() - started;
  return tally.report;
}

/**
 * The platform-side changes as they stand after this run (dry-run: before it): sync restores what
 * was switched off and, unless reverting, leaves what was switched on, which then still differs.
 */
function platformSideAfter(
  r: Reconciler,
  opts: SyncOptions,
  account: AccountState,
  desired: DesiredAccount,
  record: AccountRecord | null,
  o: AccountOutcome,
  categoriesByTariff: ReadonlyMap<number, readonly TariffCategory[]>,
  at: Date,
): Discrepancy[] {
  if (!o.platformBefore || o.park?.reason === 'shared_username') return [];
  const before = { id: '', subscriptions: o.platformBefore };
  const platform = opts.dryRun ? o.platformBefore : (simulatePlan(before, o.made)?.subscriptions ?? []);
  const applied = opts.dryRun ? (record?.subscriptions ?? null) : (o.record?.subscriptions ?? record?.subscriptions ?? null);
  return platformSideDiscrepancies({
    account,
    desired,
    applied,
    platform: { id: '', username: desired.username, subscriptions: platform },
    categoriesByTariff,
    policy: r.policy,
    at,
  });
}

async function persist(r: Reconciler, outcomes: AccountOutcome[], parked: Set<number>) {
  const { store } = r.deps;
  const records: AccountRecord[] = outcomes.flatMap((o) => (o.record ? [o.record] : []));
  await store.save(records);
  for (const o of outcomes) {
    if (o.park) {
      await store.park(o.vgId, o.park.reason, o.park.detail);
      parked.add(o.vgId);
    }
  }
  const cleared = outcomes.filter((o) => !o.park && parked.has(o.vgId)).map((o) => o.vgId);
  if (cleared.length) {
    await store.unpark(cleared);
    for (const id of cleared) parked.delete(id);
  }
}

interface PlatformIndex {
  byId: Map<string, { id: string; username: string; subscriptions: string[] }>;
  byUsername: Map<string, { id: string; username: string; subscriptions: string[] }>;
}

/** Reads every platform account. A failed page fails the sync: a partial list would look like missing accounts. */
async function readPlatform(r: Reconciler, pageSize: number): Promise<PlatformIndex> {
  const byId: PlatformIndex['byId'] = new Map();
  const byUsername: PlatformIndex['byUsername'] = new Map();
  for (let page = 0; ; page++) {
    const res = await r.deps.platform.listAccounts(page, pageSize);
    for (const a of res.accounts) {
      const entry = { id: a.id, username: a.username, subscriptions: (a.subscriptions ?? []).map((s) => String(s.id)).sort() };
      byId.set(a.id, entry);
      byUsername.set(a.username, entry);
    }
    const pages = res.pagination?.pages ?? 1;
    if (pageSize === -1 || page + 1 >= pages || res.accounts.length === 0) break;
  }
  return { byId, byUsername };
}
