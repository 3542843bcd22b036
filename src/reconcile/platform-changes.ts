// Changes made on the platform itself (a subscriber in the Smotreshka app, a manager in the
// platform's panel) and what the billing does about them: a pure function of one account's three
// sets — what the billing wants (desired), what this service last applied (the StateStore), what
// the platform has now (the scan) — plus what the account's tariffs offer and what the previous
// scan already saw.
//
// Only two kinds of difference are the platform's doing:
// - switched off: a subscription this service had enabled, that the billing still wants, and that
//   the platform no longer has;
// - switched on: a subscription on the platform that the billing doesn't want and that this service
//   never applied.
// Everything else is propagation's business (the billing changed and the platform hasn't caught up
// yet), never a platform-side change. The policy then says what to do: `mirror` writes it into the
// billing when the billing can express it, `revert` undoes it on the platform, `report` only tells.
// Whatever the billing can't express (not offered on the tariffs, a second basic, an account the
// billing doesn't know) is reported under `mirror` and `report`, and undone under `revert`.
//
// Nothing is acted on at first sight: a change is `due` only when the scan right before this one
// saw the same change too, so one glitchy answer of the platform can't close a paying service.
import { CONVERGE_ALL, type PlatformSide } from './plan.js';

export type PlatformChangesPolicy = 'mirror' | 'revert' | 'report';

/** One category that puts a subscription on one of the account's applicable tariffs. */
export interface OfferedCategory {
  tarId: number;
  servCatIdx: number;
  basic: boolean;
  /** enabled, available to the subscriber (personal cabinet, and so the platform's app), not archived */
  forSale: boolean;
}

/** The billing's side of one account, as of the scan. */
export interface BillingSide {
  vgId: number;
  /** DesiredAccount.subscriptions: what the billing wants enabled now (empty while TV is suspended) */
  desired: readonly string[];
  /** blocked, switched off or removed: the billing wants no TV at all */
  suspended: boolean;
  /** the account's main tariff: its categories are chosen before a multi-tariff's */
  mainTarId: number;
  /** subscription id → the categories carrying it on the account's applicable tariffs */
  offers: ReadonlyMap<string, readonly OfferedCategory[]>;
  /** ids the billing files as basic: its services' and its tariffs' service_type */
  basics: ReadonlySet<string>;
}

/** Whom a platform account belongs to in the billing. */
export type Owner =
  | { kind: 'account'; billing: BillingSide }
  /** no billing account has it (no login match, or its vgroup is gone) */
  | { kind: 'unknown' }
  /** several vgroups could be it (logins are unique per agent only): never acted on */
  | { kind: 'ambiguous' };

export interface AccountObservation {
  platformId: string;
  username: string;
  owner: Owner;
  /** StateStore.subscriptions: what this service last applied; null = never known */
  applied: readonly string[] | null;
  /** the platform's subscriptions as this scan read them */
  platform: readonly string[];
  /**
   * Changes the scan right before this one left pending for this account (key → first seen);
   * null when that scan didn't see the account (not one of two consecutive looks).
   */
  previous: ReadonlyMap<string, Date> | null;
  /** when this scan read the account */
  seenAt: Date;
}

export type ChangeReason =
  /** switched off: the billing still has it in force */
  | 'stopped_on_platform'
  /** switched on: the account's tariffs sell it to the subscriber */
  | 'offered'
  /** switched on: no category for sale carries it on the account's tariffs */
  | 'not_offered'
  /** switched on: a basic next to another basic on the platform */
  | 'second_basic'
  /** switched on while the billing suspends the account's TV */
  | 'suspended'
  | 'unknown_account'
  | 'ambiguous_account';

/**
 * close: stop the billing's services rows giving it; assign: a new services row (the subscriber's
 * own action); enable/disable: undo the change on the platform; report: tell the operator only.
 */
export type ChangeAction = 'close' | 'assign' | 'enable' | 'disable' | 'report';

export interface PlatformChange {
  /** identifies the change across scans: `off:<id>` or `on:<id>` */
  key: string;
  seen: 'switched_off' | 'switched_on';
  subscriptionId: string;
  reason: ChangeReason;
  action: ChangeAction;
  /** assign only: the category the new services row goes on */
  category: OfferedCategory | null;
  /** first seen: this scan's instant for a new change */
  since: Date;
  /** seen by this scan and the one before: may be acted on */
  due: boolean;
}

export function changeKey(seen: PlatformChange['seen'], subscriptionId: string): string {
  return `${seen === 'switched_off' ? 'off' : 'on'}:${subscriptionId}`;
}

/** Whether acting on the change writes anything (billing or platform). */
export function isWrite(c: PlatformChange): boolean {
  return c.action !== 'report';
}

/** What to remember for the next scan: every change seen, with when it was first seen. */
export function pendingOf(changes: readonly PlatformChange[]): Map<string, Date> {
  return new Map(changes.map((c) => [c.key, c.since]));
}

/** The category to assign on: the main tariff's first, then the lowest (tar_id, serv_cat_idx). */
function chooseCategory(billing: BillingSide, id: string): OfferedCategory | null {
  const forSale = (billing.offers.get(id) ?? []).filter((c) => c.forSale);
  if (forSale.length === 0) return null;
  return [...forSale].sort(
    (a, b) =>
      Number(b.tarId === billing.mainTarId) - Number(a.tarId === billing.mainTarId) ||
      a.tarId - b.tarId ||
      a.servCatIdx - b.servCatIdx,
  )[0]!;
}

function isBasic(billing: BillingSide, id: string): boolean {
  return billing.basics.has(id) || (billing.offers.get(id) ?? []).some((c) => c.basic);
}

type Draft = Omit<PlatformChange, 'key' | 'since' | 'due'>;

/** What the policy does with something the billing could write (`mirror`) or can't express. */
function act(
  policy: PlatformChangesPolicy,
  seen: PlatformChange['seen'],
  expressible: ChangeAction | null,
): ChangeAction {
  if (policy === 'revert') return seen === 'switched_off' ? 'enable' : 'disable';
  if (policy === 'mirror' && expressible !== null) return expressible;
  return 'report';
}

export function decidePlatformChanges(
  o: AccountObservation,
  policy: PlatformChangesPolicy,
): PlatformChange[] {
  const drafts: Draft[] = [];
  const platform = new Set(o.platform);

  if (o.owner.kind !== 'account') {
    // Nothing in the billing to compare with: every subscription there is the platform's doing.
    const reason: ChangeReason = o.owner.kind === 'unknown' ? 'unknown_account' : 'ambiguous_account';
    for (const id of [...platform].sort()) {
      // an account we can't attribute is never touched, whatever the policy
      const action = reason === 'ambiguous_account' ? 'report' : act(policy, 'switched_on', null);
      drafts.push({ seen: 'switched_on', subscriptionId: id, reason, action, category: null });
    }
    return finish(o, drafts);
  }

  const billing = o.owner.billing;
  const desired = new Set(billing.desired);
  const applied = new Set(o.applied ?? []);

  for (const id of [...applied].sort()) {
    if (!desired.has(id) || platform.has(id)) continue;
    drafts.push({
      seen: 'switched_off',
      subscriptionId: id,
      reason: 'stopped_on_platform',
      action: act(policy, 'switched_off', 'close'),
      category: null,
    });
  }

  const appeared = [...platform].filter((id) => !desired.has(id) && !applied.has(id)).sort();
  for (const id of appeared) {
    const reason = switchedOnReason(billing, platform, id);
    const action = act(policy, 'switched_on', reason === 'offered' ? 'assign' : null);
    const category = action === 'assign' ? chooseCategory(billing, id) : null;
    drafts.push({ seen: 'switched_on', subscriptionId: id, reason, action, category });
  }

  const changes = finish(o, drafts);
  // A basic switched in the platform's panel is a close of the old basic and an assign of the new
  // one: the assign waits until the close may go too, so the billing never holds both at once.
  const basicCloseWaits = changes.some(
    (c) => c.action === 'close' && !c.due && isBasic(billing, c.subscriptionId),
  );
  return changes.map((c) =>
    c.action === 'assign' && c.category?.basic && basicCloseWaits ? { ...c, due: false } : c,
  );
}

function switchedOnReason(billing: BillingSide, platform: ReadonlySet<string>, id: string): ChangeReason {
  if (billing.suspended) return 'suspended';
  if (chooseCategory(billing, id) === null) return 'not_offered';
  if (isBasic(billing, id) && [...platform].some((other) => other !== id && isBasic(billing, other)))
    return 'second_basic';
  return 'offered';
}

function finish(o: AccountObservation, drafts: Draft[]): PlatformChange[] {
  return drafts.map((d): PlatformChange => {
    const key = changeKey(d.seen, d.subscriptionId);
    const first = o.previous?.get(key);
    return { ...d, key, since: first ?? o.seenAt, due: first !== undefined };
  });
}

/**
 * What billing → platform runs do about platform-side changes under a policy. Propagation leaves
 * both kinds to the scan unless the policy is `revert`; `sync` (the vendor's manual
 * synchronisation: "in force in the billing, not active on the platform") restores what was
 * switched off, and leaves what was switched on to the scan unless the policy is `revert`.
 * `recover` (the run after one that was interrupted between a platform call and the saving of what
 * it applied) converges everything: the record of what was applied can't be trusted then, so what
 * looks like a platform-side switch-on may be our own enable whose record was lost.
 */
export function platformSideFor(policy: PlatformChangesPolicy, purpose: 'propagate' | 'sync' | 'recover'): PlatformSide {
  if (policy === 'revert' || purpose === 'recover') return CONVERGE_ALL;
  return { keepSwitchedOn: true, keepSwitchedOff: purpose === 'propagate' };
}
