// The thin shell around the pure core for one account: given what the billing says and what the
// platform has, plan and (unless dry-run) execute the calls, and say what the service's own
// tables should remember. Transient platform failures propagate (the caller backs off and keeps
// order); permanent ones are collected as the account's park reason.
import type { Logger } from '../log.js';
import { type AccountIdMode, accountRef, type PlatformApi } from '../smotreshka/api.js';
import { PlatformError } from '../smotreshka/errors.js';
import type { AccountRecord } from '../state/store.js';
import type { DesiredAccount } from './desired.js';
import { type Discrepancy, discrepancy, fromCall, fromIssue } from './discrepancy.js';
import { type ActualAccount, appliedAfter, type PlannedCall, type PlatformSide, planCalls, sameState } from './plan.js';

export interface ApplyContext {
  platform: PlatformApi;
  idMode: AccountIdMode;
  catalogue: ReadonlySet<string> | null;
  now: () => number;
  logger: Logger;
  dryRun: boolean;
  /** the vg_id already mapped to this platform account, if another one is (single-account path) */
  ownerOf?: (platformId: string) => Promise<number | null>;
  /** changes made on the platform itself: left to the platform scan, or undone (absent: undone) */
  platformSide?: PlatformSide;
}

export interface AccountOutcome {
  vgId: number;
  username: string;
  /** what differed before this run (dry-run: what would be done) */
  found: Discrepancy[];
  /** calls made (empty on dry-run) */
  made: PlannedCall[];
  /** what is still wrong afterwards: mapping issues, conflicts, errors */
  remaining: Discrepancy[];
  /** the record to store; null when nothing about it changed */
  record: AccountRecord | null;
  /** the platform account's subscriptions as read before this run; null = no platform account */
  platformBefore?: string[] | null;
  /** set when the account should be parked: a permanent error or a mapping problem */
  park: { reason: string; detail: string } | null;
}

/**
 * `actual` undefined = not looked up yet (the single-account path reads it here); null = the
 * platform has no such account (the bulk path knows it from the full listing).
 */
export async function applyAccount(
  ctx: ApplyContext,
  desired: DesiredAccount,
  record: AccountRecord | null,
  actual: ActualAccount | null | undefined,
): Promise<AccountOutcome> {
  const { vgId, username } = desired;
  // An account the billing doesn't entitle and that we never mapped claims nothing by its username:
  // logins are unique per agent only, so an internet vgroup may share the TV vgroup's login.
  if (actual === undefined) actual = desired.entitled || record?.platformId ? await lookUp(ctx, record, username) : null;

  if (actual && ctx.ownerOf && actual.id !== record?.platformId) {
    const owner = await ctx.ownerOf(actual.id);
    if (owner !== null && owner !== vgId) return sharedUsername(vgId, username, owner);
  }

  const applied = record?.subscriptions ?? null;
  const planFor = (on: ActualAccount | null, lastState: AccountRecord['state']) =>
    planCalls({ desired, actual: on, lastState, catalogue: ctx.catalogue, applied, platformSide: ctx.platformSide });
  const plan = planFor(actual, record?.state ?? null);
  const issues = [...desired.issues, ...plan.issues].map((i) => fromIssue(vgId, username, i));
  const found = [...plan.calls.map((c) => fromCall(vgId, username, c)), ...issues];
  const outcome: AccountOutcome = {
    vgId,
    username,
    found,
    made: [],
    remaining: [...issues],
    record: null,
    park: null,
    platformBefore: actual ? [...actual.subscriptions].sort() : null,
  };
  const mappingProblem = issues.find((d) => d.kind === 'mapping');
  if (mappingProblem) outcome.park = { reason: 'mapping', detail: mappingProblem.detail };

  let platformId = actual?.id ?? record?.platformId ?? null;
  /** what the platform has, as far as this run knows; null = no platform account */
  let onPlatform = actual ? [...actual.subscriptions].sort() : null;
  let state = record?.state ?? null;
  let stateTs = record?.stateTs ?? null;

  if (!ctx.dryRun) {
    const refuse = (err: unknown) => {
      if (!(err instanceof PlatformError) || err.transient) throw err;
      const detail = `${err.kind}: ${err.message}${err.call ? ` (${err.call})` : ''}`;
      outcome.remaining.push(discrepancy(vgId, username, 'error', detail));
      outcome.park ??= { reason: err.kind, detail };
      ctx.logger.warn({ vgId, username, kind: err.kind, status: err.status, call: err.call }, 'platform refused a call: account parked');
    };
    try {
      let calls = plan.calls;
      if (calls[0]?.op === 'create') {
        const c = calls[0];
        const res = await createAccount(ctx, c);
        outcome.made.push(c);
        const owner = res.created || !ctx.ownerOf ? null : await ctx.ownerOf(res.id);
        if (owner !== null && owner !== vgId) return sharedUsername(vgId, username, owner);
        platformId = res.id;
        if (res.created && res.purchased) {
          onPlatform = [...c.purchases].sort();
          calls = calls.slice(1);
        } else {
          // The username was already ours (or came back from the archive), or the purchases were
          // refused: read what the account has and plan again from there.
          const existing = res.created ? null : await ctx.platform.getAccount(accountRef(ctx.idMode, { id: res.id, username }));
          onPlatform = (existing?.subscriptions ?? []).map((s) => s.id).sort();
          calls = planFor({ id: res.id, subscriptions: onPlatform }, null).calls;
        }
      }
      const ref = platformId === null ? null : accountRef(ctx.idMode, { id: platformId, username });
      for (const call of calls) {
        if (ref === null || call.op === 'create') continue;
        try {
          if (call.op === 'state') {
            const ts = Math.max(ctx.now(), (stateTs ?? 0) + 1);
            await ctx.platform.pushAccountState(ref, call.state, { stateTimestamp: ts });
            state = call.state;
            stateTs = ts;
          } else {
            await ctx.platform.setSubscription(ref, call.subscriptionId, call.op === 'enable');
            const set = new Set(onPlatform ?? []);
            if (call.op === 'enable') set.add(call.subscriptionId);
            else set.delete(call.subscriptionId);
            onPlatform = [...set].sort();
          }
          outcome.made.push(call);
        } catch (err) {
          // One subscription the platform refuses (unknown, archived) must not keep the account's
          // other subscriptions and its state from being applied; anything else stops here.
          refuse(err);
          if (!(err instanceof PlatformError && SUBSCRIPTION_ERRORS.has(err.kind))) break;
        }
      }
    } catch (err) {
      refuse(err);
    }
  }

  const next: AccountRecord = {
    vgId,
    platformId,
    username,
    // what this service applied, not everything the platform has: a subscription switched on there
    // stays the platform scan's business (plan.ts, appliedAfter)
    subscriptions: onPlatform === null ? applied : appliedAfter(desired.subscriptions, applied, onPlatform),
    state,
    stateTs,
    nextAt: desired.nextTransition,
  };
  if (!ctx.dryRun && (platformId !== null || record !== null) && !sameRecord(record, next)) outcome.record = next;
  if (ctx.dryRun) outcome.remaining = found;
  return outcome;
}

/** Two vgroups whose logins make the same platform username (logins are unique per agent only). */
export function sharedUsername(vgId: number, username: string, owner: number): AccountOutcome {
  const d = discrepancy(vgId, username, 'conflict', `the platform username is already used by vg_id ${owner}; this account is left alone`);
  return { vgId, username, found: [d], made: [], remaining: [d], record: null, park: { reason: 'shared_username', detail: d.detail } };
}

const SUBSCRIPTION_ERRORS = new Set(['unknown_subscription', 'archived_subscription']);

/**
 * Creates the account with its subscriptions in one call. If the platform refuses the purchases
 * (one of them archived or unknown there), the account is created bare and the subscriptions are
 * then enabled one by one, so one bad id doesn't keep the subscriber off the platform.
 */
async function createAccount(
  ctx: ApplyContext,
  c: Extract<PlannedCall, { op: 'create' }>,
): Promise<{ id: string; created: boolean; purchased: boolean }> {
  try {
    const res = await ctx.platform.createAccount({ username: c.username, email: c.email, purchases: c.purchases });
    return { ...res, purchased: true };
  } catch (err) {
    if (!(err instanceof PlatformError) || err.transient || c.purchases.length === 0) throw err;
    if (err.kind !== 'archived_subscription' && err.kind !== 'bad_request' && err.kind !== 'unknown_subscription') throw err;
    const res = await ctx.platform.createAccount({ username: c.username, email: c.email, purchases: [] });
    return { ...res, purchased: false };
  }
}

async function lookUp(ctx: ApplyContext, record: AccountRecord | null, username: string): Promise<ActualAccount | null> {
  // Without a stored id the platform can only be asked by username, and only where it is set up to
  // accept usernames in paths; otherwise an entitled account is found by the idempotent create.
  const id = record?.platformId ?? null;
  if (id === null && ctx.idMode !== 'username') return null;
  try {
    const acc = await ctx.platform.getAccount(accountRef(ctx.idMode, { id: id ?? '', username }));
    return acc ? { id: acc.id, subscriptions: acc.subscriptions.map((s) => s.id) } : null;
  } catch (err) {
    // 403 about one account = archived on the platform: as good as absent; create brings it back.
    if (err instanceof PlatformError && err.kind === 'forbidden') return null;
    throw err;
  }
}

function sameRecord(a: AccountRecord | null, b: AccountRecord): boolean {
  if (a === null) return false;
  return (
    a.platformId === b.platformId &&
    a.username === b.username &&
    JSON.stringify(a.subscriptions) === JSON.stringify(b.subscriptions) &&
    sameState(a.state, b.state) &&
    a.stateTs === b.stateTs &&
    (a.nextAt?.getTime() ?? null) === (b.nextAt?.getTime() ?? null)
  );
}
