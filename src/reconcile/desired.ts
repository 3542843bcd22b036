// Desired state of one account at time t: a pure function of the billing's data. It answers three
// questions — which subscriptions the platform should have enabled, what account state it should
// show, and when the answer can next change with no row change at all (a timefrom/timeto or a
// multi-tariff window passing) — and lists what it could not map.
import {
  type AccountState,
  AgreementState,
  type AssignedService,
  BlockCode,
  ServiceType,
} from '../billing/types.js';
import type { AccountStatePush, PlatformStatus } from '../smotreshka/types.js';
import { decimalToKopecks } from './money.js';

export interface DesiredOptions {
  usernamePrefix: string;
  /** placeholders {login} {vgId} {uid} {username} */
  emailTemplate: string;
}

/** Something the billing says that can't be mapped cleanly onto the platform. */
export type AccountIssue =
  /** more than one basic in force: `kept` won (latest timefrom, then highest service_id) */
  | { kind: 'two_basics'; serviceIds: number[]; kept: number }
  /** a services row whose (tar_id, serv_cat_idx) has no service_categories row */
  | { kind: 'missing_category'; serviceId: number }
  /** a block code this version does not know: treated as suspended */
  | { kind: 'unknown_block_code'; code: number }
  /** login + prefix is not a valid platform username */
  | { kind: 'invalid_username'; username: string }
  /** a service's uuid is not in the platform's catalogue (found by the plan) */
  | { kind: 'unknown_subscription'; subscriptionId: string };

export interface DesiredAccount {
  vgId: number;
  username: string;
  email: string;
  /**
   * The account has a Smotreshka service in force and is not archived/terminated: the platform
   * account should exist (even while blocked, so the subscriber sees why TV stopped).
   */
  entitled: boolean;
  /** subscription ids that should be enabled, sorted; empty while suspended */
  subscriptions: string[];
  state: AccountStatePush;
  /** the earliest instant after t at which this answer may change without a row change */
  nextTransition: Date | null;
  issues: AccountIssue[];
}

const USERNAME = /^[a-zA-Z0-9_@.+\-/]{1,100}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function platformUsername(prefix: string, login: string): string {
  return `${prefix}${login}`;
}

export function desiredState(account: AccountState, t: Date, opts: DesiredOptions): DesiredAccount {
  const issues: AccountIssue[] = [];
  const username = platformUsername(opts.usernamePrefix, account.login);
  if (!USERNAME.test(username)) issues.push({ kind: 'invalid_username', username });

  const { status, tvSuspended, removed } = accountStatus(account, issues);
  const inForce = servicesInForce(account, t, issues);
  const entitledSet = chooseSubscriptions(inForce, issues);

  const balance = decimalToKopecks(account.agreement.balance);
  const state: AccountStatePush = { balance, status, tvSuspended };
  if (status === 'suspended_no_funds') {
    const available = balance + decimalToKopecks(account.agreement.credit);
    if (available < 0) state.recommendedRefill = -available;
  }

  return {
    vgId: account.vgId,
    username,
    email: emailFor(account, username, opts.emailTemplate),
    entitled: entitledSet.length > 0 && !removed,
    subscriptions: tvSuspended ? [] : entitledSet,
    state,
    nextTransition: nextTransition(account, t),
    issues,
  };
}

/**
 * Billing block codes → platform status. Archive of the vgroup, the card or the agreement, and a
 * deleted/terminated agreement mean the account is gone for good ("removed"): its subscriptions
 * are disabled and it shows `other`, but the platform account is kept (never DELETE for a state
 * the billing can undo).
 */
function accountStatus(
  a: AccountState,
  issues: AccountIssue[],
): { status: PlatformStatus; tvSuspended: boolean; removed: boolean } {
  const removed =
    a.archive || a.card.archive || a.agreement.archive || a.agreement.state !== AgreementState.active;
  if (removed) return { status: 'other', tvSuspended: true, removed };
  switch (a.blocked) {
    case BlockCode.active:
      return { status: 'active', tvSuspended: false, removed };
    case BlockCode.balance:
    case BlockCode.balanceActive:
      return { status: 'suspended_no_funds', tvSuspended: true, removed };
    case BlockCode.user:
    case BlockCode.admin:
      return { status: 'suspended_manually', tvSuspended: true, removed };
    case BlockCode.trafficLimit:
    case BlockCode.switchedOff:
      return { status: 'other', tvSuspended: true, removed };
    default:
      issues.push({ kind: 'unknown_block_code', code: a.blocked });
      return { status: 'other', tvSuspended: true, removed };
  }
}

function isTvService(s: AssignedService): boolean {
  return s.uuid !== null && s.uuid.trim() !== '';
}

/** state 0 (off, never activated) and 2 (off after activation) are off; need_calc -1 = deleted. */
function isSwitchedOn(s: AssignedService): boolean {
  return s.state !== 0 && s.state !== 2 && s.needCalc !== -1;
}

function within(t: Date, from: Date, to: Date | null): boolean {
  return from.getTime() <= t.getTime() && (to === null || t.getTime() < to.getTime());
}

/**
 * A service on a tariff that the vgroup holds through `multitarifs` (and that isn't its main
 * tariff) is in force only while one of those multitarifs rows is; a service on the main tariff or
 * on any other tariff stands on its own timefrom/timeto. That keeps layout 2 steady while a tariff
 * switch is being re-attached, and makes layout 3's windows count.
 */
function tariffApplies(a: AccountState, s: AssignedService, t: Date): boolean {
  if (s.tarId === a.tarId) return true;
  const windows = a.multitarifs.filter((m) => m.tarId === s.tarId);
  if (windows.length === 0) return true;
  return windows.some((m) => within(t, m.dtfrom, m.dtto));
}

function servicesInForce(a: AccountState, t: Date, issues: AccountIssue[]): AssignedService[] {
  const out: AssignedService[] = [];
  for (const s of a.services) {
    if (!isSwitchedOn(s) || !within(t, s.timefrom, s.timeto) || !tariffApplies(a, s, t)) continue;
    if (s.serviceType === null) {
      // the row's (tar_id, serv_cat_idx) has no category: we can't tell whether it is TV
      issues.push({ kind: 'missing_category', serviceId: s.serviceId });
      continue;
    }
    if (isTvService(s)) out.push(s);
  }
  return out;
}

/** One basic wins: the latest timefrom (the most recent switch), then the highest service_id. */
function chooseSubscriptions(inForce: AssignedService[], issues: AccountIssue[]): string[] {
  const basics = inForce.filter((s) => s.serviceType === ServiceType.basic);
  const ids = new Set<string>();
  if (basics.length > 0) {
    const kept = basics.reduce((best, s) =>
      s.timefrom.getTime() > best.timefrom.getTime() ||
      (s.timefrom.getTime() === best.timefrom.getTime() && s.serviceId > best.serviceId)
        ? s
        : best,
    );
    const distinct = new Set(basics.map((s) => s.uuid!.trim()));
    if (distinct.size > 1) {
      issues.push({
        kind: 'two_basics',
        serviceIds: basics.map((s) => s.serviceId).sort((x, y) => x - y),
        kept: kept.serviceId,
      });
    }
    ids.add(kept.uuid!.trim());
  }
  for (const s of inForce) if (s.serviceType !== ServiceType.basic) ids.add(s.uuid!.trim());
  return [...ids].sort();
}

function emailFor(a: AccountState, username: string, template: string): string {
  const own = a.card.email?.trim().toLowerCase() ?? '';
  if (own !== '' && own.length <= 100 && EMAIL.test(own)) return own;
  return template
    .replaceAll('{username}', username)
    .replaceAll('{login}', a.login)
    .replaceAll('{vgId}', String(a.vgId))
    .replaceAll('{uid}', String(a.card.uid))
    .toLowerCase();
}

/** The earliest boundary after t among the TV services' and multi-tariffs' windows. */
function nextTransition(a: AccountState, t: Date): Date | null {
  const now = t.getTime();
  let next = Number.POSITIVE_INFINITY;
  const consider = (d: Date | null) => {
    if (d === null) return;
    const ms = d.getTime();
    if (ms > now && ms < next) next = ms;
  };
  const tvTariffs = new Set<number>();
  for (const s of a.services) {
    if (!isTvService(s) || !isSwitchedOn(s)) continue;
    tvTariffs.add(s.tarId);
    consider(s.timefrom);
    consider(s.timeto);
  }
  for (const m of a.multitarifs) {
    if (!tvTariffs.has(m.tarId)) continue;
    consider(m.dtfrom);
    consider(m.dtto);
  }
  return Number.isFinite(next) ? new Date(next) : null;
}
