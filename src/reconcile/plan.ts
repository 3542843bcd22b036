// The plan: the fewest platform calls that turn what the platform has into what the billing wants.
// Pure: desired state in, calls out. Executing it is apply.ts's job.
import type { AccountStatePush } from '../smotreshka/types.js';
import type { AccountIssue, DesiredAccount } from './desired.js';

/** What the platform has for the account, as last read; null = no platform account. */
export interface ActualAccount {
  id: string;
  subscriptions: string[];
}

export type PlannedCall =
  | { op: 'create'; username: string; email: string; purchases: string[] }
  | { op: 'disable'; subscriptionId: string }
  | { op: 'state'; state: AccountStatePush }
  | { op: 'enable'; subscriptionId: string };

export interface PlanInput {
  desired: DesiredAccount;
  actual: ActualAccount | null;
  /** the account state this service last pushed (the platform has no way to read it back) */
  lastState: AccountStatePush | null;
  /** the platform's catalogue; null when unknown (then every id is tried) */
  catalogue: ReadonlySet<string> | null;
  /** the subscriptions this service last applied (StateStore); null/absent = never known */
  applied?: readonly string[] | null;
  /** what to do about changes made on the platform itself; absent = undo them all */
  platformSide?: PlatformSide;
}

/**
 * Changes made on the platform itself are the platform scan's business (platform-changes.ts) unless
 * the policy is `revert`. Propagation then leaves alone both a subscription switched on there (on
 * the platform, neither wanted by the billing nor applied by this service) and one switched off
 * there (applied and still wanted, gone from the platform): undoing either would race the scan
 * that is about to mirror or report it. `sync` restores the switched-off ones (billing → platform
 * is its meaning) but leaves the switched-on ones to the scan. While the billing suspends the
 * account's TV (blocked, switched off, removed) nothing switched on there is kept.
 */
export interface PlatformSide {
  keepSwitchedOn: boolean;
  keepSwitchedOff: boolean;
}

/** The old behaviour and the `revert` policy: the platform is converged to the billing, all of it. */
export const CONVERGE_ALL: PlatformSide = { keepSwitchedOn: false, keepSwitchedOff: false };

export interface Plan {
  calls: PlannedCall[];
  /** subscriptions the billing wants but the platform's catalogue lacks */
  issues: AccountIssue[];
}

export function sameState(a: AccountStatePush | null, b: AccountStatePush | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.balance === b.balance &&
    a.status === b.status &&
    a.tvSuspended === b.tvSuspended &&
    (a.recommendedRefill ?? null) === (b.recommendedRefill ?? null)
  );
}

/**
 * Order: create (with its purchases), then disables (frees the basic slot on a switch and stops TV
 * before a block is announced), then the account state (an unblock is announced before TV comes
 * back), then enables. An account that isn't entitled and doesn't exist gets nothing: the platform
 * account is created on first need only.
 */
export function planCalls({ desired, actual, lastState, catalogue, applied = null, platformSide = CONVERGE_ALL }: PlanInput): Plan {
  const issues: AccountIssue[] = [];
  const known = (id: string) => {
    if (catalogue === null || catalogue.has(id)) return true;
    issues.push({ kind: 'unknown_subscription', subscriptionId: id });
    return false;
  };
  const wanted = desired.subscriptions.filter(known);
  const calls: PlannedCall[] = [];

  if (actual === null) {
    if (!desired.entitled || desired.issues.some((i) => i.kind === 'invalid_username')) return { calls, issues };
    calls.push({ op: 'create', username: desired.username, email: desired.email, purchases: wanted });
    calls.push({ op: 'state', state: desired.state });
    return { calls, issues };
  }

  const have = new Set(actual.subscriptions);
  const want = new Set(wanted);
  const mine = new Set(applied ?? []);
  // A block (or a removed account) stops all TV, whoever switched it on: the billing's "no TV" wins.
  const keepOn = platformSide.keepSwitchedOn && !desired.state.tvSuspended;
  const switchedOn = (id: string) => !desired.subscriptions.includes(id) && !mine.has(id);
  const switchedOff = (id: string) => mine.has(id);
  for (const id of [...have].sort()) {
    if (want.has(id) || (keepOn && switchedOn(id))) continue;
    calls.push({ op: 'disable', subscriptionId: id });
  }
  if (!sameState(lastState, desired.state)) calls.push({ op: 'state', state: desired.state });
  for (const id of wanted) {
    if (have.has(id) || (platformSide.keepSwitchedOff && switchedOff(id))) continue;
    calls.push({ op: 'enable', subscriptionId: id });
  }
  return { calls, issues };
}

/**
 * The subscriptions this service counts as applied after a run, given what the platform has then:
 * those the billing wants that the platform has or that were applied before (a switch-off there
 * stays visible to the scan), and those applied before that are still on the platform (a disable
 * that failed is retried). A subscription switched on on the platform is never counted: it is not
 * this service's doing until the billing wants it.
 */
export function appliedAfter(
  desired: readonly string[],
  before: readonly string[] | null,
  platformAfter: readonly string[],
): string[] {
  const prev = new Set(before ?? []);
  const on = new Set(platformAfter);
  const out = new Set<string>();
  for (const id of desired) if (on.has(id) || prev.has(id)) out.add(id);
  for (const id of prev) if (on.has(id)) out.add(id);
  return [...out].sort();
}

/** Applies a plan to a model of the platform: what tests and dry-run reports reason with. */
export function simulatePlan(actual: ActualAccount | null, calls: PlannedCall[]): ActualAccount | null {
  let acc = actual ? { id: actual.id, subscriptions: new Set(actual.subscriptions) } : null;
  for (const c of calls) {
    if (c.op === 'create') acc = { id: acc?.id ?? 'new', subscriptions: new Set([...(acc?.subscriptions ?? []), ...c.purchases]) };
    else if (c.op === 'enable') acc?.subscriptions.add(c.subscriptionId);
    else if (c.op === 'disable') acc?.subscriptions.delete(c.subscriptionId);
  }
  return acc ? { id: acc.id, subscriptions: [...acc.subscriptions].sort() } : null;
}
