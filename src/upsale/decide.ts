// Whether the billing sells an offer to an account: a pure function of the account as read, the
// categories that carry the offer on its tariffs, the request and the time. Ensure asks it before
// reserving; commit asks it again under the account's row lock, so what is written always obeys
// the rules as they are at that moment. "Already active" and "which rows are in force" come from
// the core's desiredState, never re-derived here, so selling and propagating can't disagree.

import { type AccountState, AgreementState, type AssignedService, ServiceType } from '../billing/types.js';
import type { OfferCategory } from '../billing/upsale-sql.js';
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
    };

export interface SaleInput {
  /** null = no such account */
  account: AccountState | null;
  /** categories carrying newOfferId on the account's applicable tariffs (applicableTariffs) */
  offers: OfferCategory[];
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

export function decideSale(input: SaleInput): SaleDecision {
  const { account, request: req, now, start } = input;
  if (!account) return refuse('unknown account');
  if (account.archive || account.card.archive || account.agreement.archive) return refuse('account archived');
  if (account.agreement.state !== AgreementState.active)
    return refuse(`agreement not active (state ${account.agreement.state})`);
  if (account.blocked !== 0) return refuse(`account blocked (code ${account.blocked})`);

  const desired = desiredState(account, now, input.desired);
  if (desired.subscriptions.includes(req.newOfferId)) {
    return { result: 'no_action_required', reason: `${req.newOfferId} is already active` };
  }

  const offer = chooseOffer(account, input.offers, now);
  if (typeof offer === 'string') return refuse(offer);

  if (
    req.kind === 'replace' &&
    (req.oldOfferId === null || !desired.subscriptions.includes(req.oldOfferId))
  ) {
    return refuse(`the offer to replace (${req.oldOfferId}) is not active`);
  }

  // A trial costs nothing now: the platform grants it; the billing charges by its own rules.
  if (req.trialDays === 0) {
    const available =
      decimalToKopecks(account.agreement.balance) + decimalToKopecks(account.agreement.credit);
    const price = decimalToKopecks(offer.price!);
    if (available < price) {
      return {
        result: 'no_sufficient_balance',
        reason: `balance + credit ${available / 100} < price ${price / 100}`,
      };
    }
  }

  // One basic per account: selling a basic stops whatever basic is in force (a basic bought
  // through add-subscription is a replace in disguise), and replace stops the old offer.
  const sellsBasic = offer.serviceType === ServiceType.basic;
  const close = account.services.filter((s) => {
    const uuid = s.uuid?.trim() ?? '';
    const targeted =
      (req.kind === 'replace' && uuid === req.oldOfferId) ||
      (sellsBasic && s.serviceType === ServiceType.basic);
    if (!targeted || uuid === '') return false;
    if (s.timeto !== null && s.timeto.getTime() <= closingInstant(s, start).getTime()) return false;
    return rowInForce(account, s, now, input.desired) || rowInForce(account, s, start, input.desired);
  });

  return { result: 'sell', offer, price: offer.price!, close };
}

/** A row is stopped at the sale's start, or at its own start if that is later (never timeto < timefrom). */
export function closingInstant(row: AssignedService, start: Date): Date {
  return row.timefrom.getTime() > start.getTime() ? row.timefrom : start;
}
