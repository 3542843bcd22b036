// Ensure and commit: the shell around decideSale. Ensure decides and records a reservation that
// binds the qsTransactionId to one sale (binding.ts); commit requires that reservation, decides
// again inside one billing transaction with the vgroups row and the agreement's sale lock held,
// writes the services rows and records itself in the journal in that same transaction. Both are
// idempotent by qsTransactionId: a repeated or concurrent commit answers what the first one did,
// never writes twice.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { BillingClock } from '../billing/clock.js';
import { billingReader } from '../billing/read.js';
import { agreementOfLocked, offerCategories, pendingCharges } from '../billing/upsale-sql.js';
import { closeService, insertService, withVgroupLocked } from '../billing/write.js';
import type { Logger } from '../log.js';
import { type EnsuredSale, type SaleKind, type SaleRecord, UpsaleJournal } from '../state/upsale-journal.js';
import { accountMismatch, bindingMismatches, describeMismatches, sameAccountNames } from './binding.js';
import {
  applicableTariffs,
  closingInstant,
  decideSale,
  heldBasics,
  type SaleDecision,
  type SaleRequest,
} from './decide.js';
import { conflict, invalid, unknownTransaction } from './errors.js';
import { resolveAccount } from './resolve.js';
import type { SaleQuery } from './schema.js';

export type UpsaleResult =
  | 'operation_ensured'
  | 'operation_commited'
  | 'no_action_required'
  | 'no_sufficient_balance'
  | 'no_subscription_rules';

/** The body of every 200 answer (spec: `{result, billingTransactionId?, billingStartTimestamp?}`). */
export interface UpsaleAnswer {
  result: UpsaleResult;
  billingTransactionId?: string;
  billingStartTimestamp?: string;
}

/** The answer plus what the logs need to explain it. */
export interface SaleOutcome {
  answer: UpsaleAnswer;
  vgId: number | null;
  reason: string;
}

export interface SaleDeps {
  knex: Knex;
  /** the billing's wall clock: the DATETIMEs written, and billingStartTimestamp's offset */
  clock: BillingClock;
  tablePrefix: string;
  usernamePrefix: string;
  emailTemplate: string;
  /** services.comment of a sold row */
  serviceComment: string;
  logger: Logger;
  now(): Date;
}

/**
 * How far serviceStartTimestamp may lie from now. A little in the past covers the platform's
 * own delay between the purchase and the commit; a month ahead covers a switch planned for the
 * end of a paid period. Anything beyond is a mistake or a forgery, refused with 400.
 */
export const START_PAST_MS = 24 * 3600_000;
export const START_FUTURE_MS = 31 * 24 * 3600_000;

/** The billing keeps whole seconds; answers carry exactly what was stored. */
function wholeSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** billingStartTimestamp: the start as the billing's clock shows it, with its offset (RFC 3339). */
function committedAnswer(r: SaleRecord, clock: BillingClock): UpsaleAnswer {
  const answer: UpsaleAnswer = { result: 'operation_commited', billingTransactionId: r.billingTransactionId };
  if (r.billingStartAt) answer.billingStartTimestamp = clock.rfc3339(r.billingStartAt);
  return answer;
}

function resolveDeps(deps: SaleDeps) {
  return {
    knex: deps.knex,
    reader: billingReader(deps.knex, deps.clock),
    tablePrefix: deps.tablePrefix,
    usernamePrefix: deps.usernamePrefix,
  };
}

/**
 * Refuses with 409, naming every difference, a request that is not the sale its qsTransactionId
 * is bound to. The account is the same when it is named as at the first ensure, or when the names
 * given find the bound vgroup.
 */
async function assertSameSale(
  deps: SaleDeps,
  r: SaleRecord,
  kind: SaleKind,
  q: SaleQuery,
  at: Date,
): Promise<void> {
  const found = bindingMismatches(r, kind, q);
  if (!sameAccountNames(r, q)) {
    const named = await resolveAccount(resolveDeps(deps), q, at);
    if (named.vgId !== r.vgId) found.unshift(accountMismatch);
  }
  if (found.length > 0)
    throw conflict(
      describeMismatches(q.qsTransactionId, found),
      found.map((m) => m.param),
    );
}

/** The sale as bound at its first ensure: later calls may not change it (assertSameSale). */
function boundRequest(r: SaleRecord): SaleRequest {
  return { kind: r.kind, newOfferId: r.newOfferId, oldOfferId: r.oldOfferId, trialDays: r.trialDays };
}

function firstRequest(kind: SaleKind, q: SaleQuery): SaleRequest {
  return {
    kind,
    newOfferId: q.newOfferId,
    oldOfferId: kind === 'replace' ? (q.oldOfferId ?? null) : null,
    trialDays: q.trialDays ?? 0,
  };
}

function refusal(decision: Exclude<SaleDecision, { result: 'sell' }>, vgId: number | null): SaleOutcome {
  return { answer: { result: decision.result }, vgId, reason: decision.reason };
}

/** Reads what the rules need, on `db` (inside commit: the locked transaction), and decides. */
async function decide(
  deps: SaleDeps,
  db: Knex,
  vgId: number,
  sale: SaleRequest,
  basicsSeen: readonly number[] | null,
  now: Date,
  start: Date,
) {
  const account = await billingReader(db, deps.clock).loadAccount(vgId, now);
  // the tariffs that apply now and at the start: the decision picks those of when it takes effect
  const tariffs = account ? [...applicableTariffs(account, now), ...applicableTariffs(account, start)] : [];
  const offers = account ? await offerCategories(db, tariffs, sale.newOfferId, now, deps.clock) : [];
  const pending = account ? await pendingCharges(db, account.agreement.agrmId, now, deps.clock) : [];
  const desired = { usernamePrefix: deps.usernamePrefix, emailTemplate: deps.emailTemplate };
  const decision = decideSale({ account, offers, pending, basicsSeen, request: sale, now, start, desired });
  const basicsHeld = account ? heldBasics(account, now, desired).map((s) => s.serviceId) : [];
  return { decision, basicsHeld };
}

const ensured = (billingTransactionId: string, vgId: number, reason: string): SaleOutcome => ({
  answer: { result: 'operation_ensured', billingTransactionId },
  vgId,
  reason,
});

export async function ensureSale(deps: SaleDeps, kind: SaleKind, q: SaleQuery): Promise<SaleOutcome> {
  const journal = new UpsaleJournal(deps.tablePrefix);
  const now = deps.now();
  const prior = await journal.get(deps.knex, q.qsTransactionId);
  if (prior) {
    await assertSameSale(deps, prior, kind, q, now);
    // spec: an ensure of an already committed transaction answers operation_commited
    if (prior.state === 'committed')
      return { answer: committedAnswer(prior, deps.clock), vgId: prior.vgId, reason: 'already committed' };
    const { decision } = await decide(
      deps,
      deps.knex,
      prior.vgId,
      boundRequest(prior),
      prior.basicsSeen,
      now,
      now,
    );
    if (decision.result !== 'sell') return refusal(decision, prior.vgId);
    return ensured(prior.billingTransactionId, prior.vgId, 'ensured again');
  }

  const found = await resolveAccount(resolveDeps(deps), q, now);
  if (found.vgId === null)
    return { answer: { result: 'no_subscription_rules' }, vgId: null, reason: found.reason };
  const request = firstRequest(kind, q);
  const { decision, basicsHeld } = await decide(deps, deps.knex, found.vgId, request, null, now, now);
  // a refused ensure binds nothing: nothing was promised
  if (decision.result !== 'sell') return refusal(decision, found.vgId);

  // The reservation holds no money: commit checks the balance again under the locks.
  const sale: EnsuredSale = {
    qsTransactionId: q.qsTransactionId,
    billingTransactionId: randomUUID(),
    vgId: found.vgId,
    accountId: q.accountId ?? null,
    accountLogin: q.accountLogin ?? null,
    ...request,
    basicsSeen: basicsHeld,
  };
  if (await journal.insertEnsured(deps.knex, sale, now)) {
    const pending = decision.pendingKopecks > 0 ? `, pending ${decision.pendingKopecks / 100}` : '';
    return ensured(sale.billingTransactionId, found.vgId, `price ${decision.price}${pending}`);
  }
  // a concurrent first ensure of the same id got there first: the same sale, or a conflict
  const twin = await journal.get(deps.knex, q.qsTransactionId);
  if (!twin) throw new Error(`upsale ${q.qsTransactionId}: journal refused the id but has no row`);
  await assertSameSale(deps, twin, kind, q, now);
  if (twin.state === 'committed')
    return { answer: committedAnswer(twin, deps.clock), vgId: twin.vgId, reason: 'already committed' };
  return ensured(twin.billingTransactionId, twin.vgId, 'ensured concurrently');
}

export async function commitSale(deps: SaleDeps, kind: SaleKind, q: SaleQuery): Promise<SaleOutcome> {
  const journal = new UpsaleJournal(deps.tablePrefix);
  const prior = await journal.get(deps.knex, q.qsTransactionId);
  if (!prior) {
    throw unknownTransaction(
      `qsTransactionId ${q.qsTransactionId} was never ensured: commit needs the billingTransactionId its ensure answered`,
    );
  }
  await assertSameSale(deps, prior, kind, q, deps.now());
  // a repeat, however late, answers from the journal
  if (prior.state === 'committed')
    return { answer: committedAnswer(prior, deps.clock), vgId: prior.vgId, reason: 'already committed' };

  const vgId = prior.vgId;
  const outcome = await withVgroupLocked(deps.knex, vgId, async (trx): Promise<SaleOutcome> => {
    // Both locks before the first plain read (write.ts says why): the agreement's sale lock makes
    // a commit on another account of the same agreement finish first, so its row is seen below.
    const agrmId = await agreementOfLocked(trx, vgId);
    if (agrmId !== null) await journal.lockAgreement(trx, agrmId);
    const reserved = await journal.get(trx, q.qsTransactionId);
    if (!reserved) throw new Error(`upsale ${q.qsTransactionId}: the reservation vanished`);
    if (reserved.state === 'committed')
      return { answer: committedAnswer(reserved, deps.clock), vgId, reason: 'committed concurrently' };

    // the instant of the decision: taken under the locks, so a sale committed just before is in force
    const now = wholeSecond(deps.now());
    const start = wholeSecond(q.serviceStartTimestamp ?? now);
    if (
      start.getTime() < now.getTime() - START_PAST_MS ||
      start.getTime() > now.getTime() + START_FUTURE_MS
    ) {
      throw invalid('serviceStartTimestamp must lie between 24 hours ago and 31 days ahead');
    }
    const sale = boundRequest(reserved);
    const { decision } = await decide(deps, trx, vgId, sale, reserved.basicsSeen, now, start);
    if (decision.result !== 'sell') return refusal(decision, vgId);

    const trial = sale.trialDays ? ` (trial ${sale.trialDays} d)` : '';
    const serviceId = await insertService(
      trx,
      {
        vgId,
        tarId: decision.offer.tarId,
        servCatIdx: decision.offer.servCatIdx,
        timefrom: start,
        timeto: null,
        mul: '1',
        personId: null,
        comment: `${deps.serviceComment}${trial}`.slice(0, 255),
        // 1 = on, not yet activated: the billing core activates and charges it as any new service
        needCalc: 1,
        state: 1,
        // not activated yet: the column keeps its default, the zero date (NULL is refused there)
        activated: null,
        externalData: `lifestream:qs=${q.qsTransactionId}`,
      },
      deps.clock,
    );
    const closed: number[] = [];
    for (const row of decision.close) {
      if (await closeService(trx, row.serviceId, closingInstant(row, start), deps.clock))
        closed.push(row.serviceId);
    }
    await journal.recordCommit(
      trx,
      { qsTransactionId: q.qsTransactionId, serviceId, closedServiceIds: closed, billingStartAt: start },
      now,
    );
    const pending = decision.pendingKopecks > 0 ? `, pending ${decision.pendingKopecks / 100}` : '';
    return {
      answer: committedAnswer({ ...reserved, billingStartAt: start }, deps.clock),
      vgId,
      reason: `service ${serviceId} on tariff ${decision.offer.tarId}${closed.length ? `, closed ${closed.join(', ')}` : ''}${pending}`,
    };
  });
  // the vgroup vanished (or became a template) since ensure
  return outcome ?? { answer: { result: 'no_subscription_rules' }, vgId, reason: 'unknown account' };
}
