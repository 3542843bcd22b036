// Whether the billing sells an offer to an account: a pure function of the account as read, the
// categories that carry the offer on its tariffs, the charges already promised on its agreement,
// the request and the time. Ensure asks it before reserving; commit asks it again under the
// account's row lock, so what is written always obeys the rules as they are at that moment.
// "Already active" and "which rows are in force" come from the core's desiredState, never
// re-derived here, so selling and propagating can't disagree.

import { type AccountState, AgreementState, type AssignedService, ServiceType } from '../billing/types.js';
import type { OfferCategory, PendingCharge } from '../billing/upsale-sql.js';
import { type DesiredOptions, desiredState } from '../reconcile/desired.js';
import { decimalToKopecks } from '../reconcile/money.js';
import type { SaleKind } from '../state/upsale-journal.js';

export interface SaleRequest {
  kind: SaleKind;
  newOfferId: string;
  /** replace only */
  oldOfferId: string | null;
  trialDays: number;
}

export type SaleDecision =
  | { result: 'no_subscription_rules'; reason: string }
  | { result: 'no_action_required'; reason: string }
  | { result: 'no_sufficient_balance'; reason: string }
  | {
      result: 'sell';
      /** the category the new services row goes on */
      offer: OfferCategory;
      /** price in force, six decimals (what the balance was checked against unless a trial) */
      price: string;
      /** rows to stop at the sale's start: the replaced offer, and any basic when a basic is sold */
      close: AssignedService[];
      /** kopecks the agreement's pending charges took off balance + credit */
      pendingKopecks: number;
    };

export interface SaleInput {
  /** null = no such account */
  account: AccountState | null;
  /** categories carrying newOfferId on the account's applicable tariffs (applicableTariffs), now and at start */
  offers: OfferCategory[];
  /** the agreement's pending charges (pendingCharges): rows this service wrote, not yet activated */
  pending: PendingCharge[];
  /**
   * The basic rows (service_id) the first ensure of this sale saw (heldBasics); null for the
   * first ensure itself (and for a reservation recorded before this was kept).
   */
  basicsSeen: readonly number[] | null;
  request: SaleRequest;
  /** the instant the rules are checked at */
  now: Date;
  /** when the new service starts (commit's serviceStartTimestamp, else now) */
  start: Date;
  desired: DesiredOptions;
}

const refuse = (reason: string): SaleDecision => ({ result: 'no_subscription_rules', reason });

function within(t: Date, from: Date, to: Date | null): boolean {
  return from.getTime() <= t.getTime() && (to === null || t.getTime() < to.getTime());
}

/** The account's applicable tariffs at `at`: its main tariff and the multitarifs rows in force. */
export function applicableTariffs(account: AccountState, at: Date): number[] {
  const ids = [account.tarId];
  for (const m of account.multitarifs)
    if (within(at, m.dtfrom, m.dtto) && !ids.includes(m.tarId)) ids.push(m.tarId);
  return ids;
}

/** Whether this one row gives the account its subscription at t, in the core's own words. */
function rowInForce(account: AccountState, row: AssignedService, t: Date, opts: DesiredOptions): boolean {
  return desiredState({ ...account, services: [row] }, t, opts).subscriptions.length > 0;
}

/**
 * The category to sell on: enabled, available to the subscriber, not archived, with a price; the
 * main tariff wins over a multi-tariff (then the lowest tar_id, serv_cat_idx: deterministic).
 */
function chooseOffer(account: AccountState, offers: OfferCategory[], at: Date): OfferCategory | string {
  const tariffs = applicableTariffs(account, at);
  const onTariffs = offers.filter((o) => tariffs.includes(o.tarId));
  if (onTariffs.length === 0) return "the offer is on none of the account's tariffs";
  const forSale = onTariffs.filter((o) => o.enabled && o.available && !o.archive);
  if (forSale.length === 0)
    return "the offer is not for sale on the account's tariffs (disabled, not available or archived)";
  const priced = forSale.filter((o) => o.price !== null);
  if (priced.length === 0) return "the offer has no price (serv_category_prices) on the account's tariffs";
  priced.sort(
    (a, b) =>
      Number(b.tarId === account.tarId) - Number(a.tarId === account.tarId) ||
      a.tarId - b.tarId ||
      a.servCatIdx - b.servCatIdx,
  );
  return priced[0]!;
}

/** A basic row in force at `at`, or planned: starting after `at`, and in force once it starts. */
function basicHeld(account: AccountState, s: AssignedService, at: Date, opts: DesiredOptions): boolean {
  if (s.serviceType !== ServiceType.basic || (s.uuid?.trim() ?? '') === '') return false;
  return rowInForce(account, s, at, opts) || startsAfter(account, s, at, opts) !== null;
}

/**
 * When a row not in force at `at` comes into force later by itself, or null: at its own timefrom,
 * or when a multi-tariff window of its tariff opens (layout 3), whichever comes first.
 */
function startsAfter(account: AccountState, s: AssignedService, at: Date, opts: DesiredOptions): Date | null {
  const candidates = [
    s.timefrom,
    ...account.multitarifs.filter((m) => m.tarId === s.tarId).map((m) => m.dtfrom),
  ]
    .filter((t) => t.getTime() > at.getTime())
    .sort((x, y) => x.getTime() - y.getTime());
  return candidates.find((t) => rowInForce(account, s, t, opts)) ?? null;
}

/**
 * The basic rows the account holds at `at`, in force or planned: their service_ids are what
 * ensure records and commit compares with, so that a basic written in between (another sale
 * committed first) is seen, even one of the same subscription as before (a switch and back).
 */
export function heldBasics(account: AccountState, at: Date, opts: DesiredOptions): AssignedService[] {
  return account.services.filter((s) => basicHeld(account, s, at, opts));
}

/** Is the offer in force at `t` by the core's rules (suspension aside: the caller checked that)? */
function offerInForce(account: AccountState, offerId: string, t: Date, opts: DesiredOptions): boolean {
  return desiredState(account, t, opts).subscriptions.includes(offerId);
}

export function decideSale(input: SaleInput): SaleDecision {
  const { account, request: req, now, start, desired: opts } = input;
  if (!account) return refuse('unknown account');
  if (account.archive || account.card.archive || account.agreement.archive) return refuse('account archived');
  if (account.agreement.state !== AgreementState.active)
    return refuse(`agreement not active (state ${account.agreement.state})`);
  if (account.blocked !== 0) return refuse(`account blocked (code ${account.blocked})`);

  // Already there now, or at a later start (a sale of the same offer from the same instant,
  // committed first): selling it again would charge twice for one subscription.
  if (
    offerInForce(account, req.newOfferId, now, opts) ||
    (start.getTime() > now.getTime() && offerInForce(account, req.newOfferId, start, opts))
  ) {
    return { result: 'no_action_required', reason: `${req.newOfferId} is already active` };
  }

  // on a tariff that applies when the sale takes effect: a row on a multi-tariff that has ended by
  // a later start would never be in force, and the platform would hold a receipt for nothing
  const offer = chooseOffer(account, input.offers, start.getTime() > now.getTime() ? start : now);
  if (typeof offer === 'string') return refuse(offer);

  if (
    req.kind === 'replace' &&
    (req.oldOfferId === null || !offerInForce(account, req.oldOfferId, now, opts))
  ) {
    return refuse(`the offer to replace (${req.oldOfferId}) is not active`);
  }

  // One basic, one receipt. A basic sold (through add or replace) stops every basic in force at
  // its start; it is refused when the account's basic changed since this sale's ensure (another
  // sale committed first: its answer is the one receipt).
  const sellsBasic = offer.serviceType === ServiceType.basic;
  if (sellsBasic && input.basicsSeen !== null) {
    const seen = input.basicsSeen;
    const appeared = heldBasics(account, now, opts).filter((s) => !seen.includes(s.serviceId));
    if (appeared.length > 0) {
      const rows = appeared.map((s) => `${s.uuid!.trim()} (service ${s.serviceId})`).join(', ');
      return refuse(`the basic subscription changed since ensure: ${rows}`);
    }
  }
  // A row planned to start after this sale that would overlap it: the same offer (charged twice
  // from then on) or, for a basic, any basic (it would undo this sale on the day it starts).
  for (const s of account.services) {
    if (s.uuid?.trim() !== req.newOfferId && !(sellsBasic && s.serviceType === ServiceType.basic)) continue;
    if (rowInForce(account, s, start, opts)) continue; // stopped by this sale (or already active)
    const from = startsAfter(account, s, start, opts);
    if (from) return refuse(`${s.uuid!.trim()} is planned from ${from.toISOString()}`);
  }

  // Replace stops the old offer; a basic stops whatever basic is in force.
  const close = account.services.filter((s) => {
    const uuid = s.uuid?.trim() ?? '';
    const targeted =
      (req.kind === 'replace' && uuid === req.oldOfferId) ||
      (sellsBasic && s.serviceType === ServiceType.basic);
    if (!targeted || uuid === '') return false;
    if (s.timeto !== null && s.timeto.getTime() <= closingInstant(s, start).getTime()) return false;
    return rowInForce(account, s, now, opts) || rowInForce(account, s, start, opts);
  });

  // A trial costs nothing now: the platform grants it; the billing charges by its own rules.
  const pendingKopecks = pendingAfter(input.pending, close, start, now);
  if (req.trialDays === 0) {
    const available =
      decimalToKopecks(account.agreement.balance) +
      decimalToKopecks(account.agreement.credit) -
      pendingKopecks;
    const price = decimalToKopecks(offer.price!);
    if (available < price) {
      const owed = pendingKopecks > 0 ? ` (pending charges ${pendingKopecks / 100} deducted)` : '';
      return {
        result: 'no_sufficient_balance',
        reason: `balance + credit ${available / 100}${owed} < price ${price / 100}`,
      };
    }
  }

  return { result: 'sell', offer, price: offer.price!, close, pendingKopecks };
}

/**
 * What the pending charges still cost once this sale is written: a pending row this sale stops
 * at once (its start is now or earlier) will never be activated, so it no longer counts.
 */
function pendingAfter(pending: PendingCharge[], close: AssignedService[], start: Date, now: Date): number {
  const stoppedNow = new Set(
    close.filter((s) => closingInstant(s, start).getTime() <= now.getTime()).map((s) => s.serviceId),
  );
  return pending.filter((p) => !stoppedNow.has(p.serviceId)).reduce((sum, p) => sum + p.kopecks, 0);
}

/** A row is stopped at the sale's start, or at its own start if that is later (never timeto < timefrom). */
export function closingInstant(row: AssignedService, start: Date): Date {
  return row.timefrom.getTime() > start.getTime() ? row.timefrom : start;
}
