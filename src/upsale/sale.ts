// Ensure and commit: the shell around decideSale. Ensure decides and records a reservation;
// commit decides again inside one billing transaction with the vgroups row locked, writes the
// services rows and records itself in the journal in that same transaction. Both are idempotent
// by qsTransactionId: the journal's primary key plus the row lock make a repeated or concurrent
// commit answer what the first one did, never write twice.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { BillingClock } from '../billing/clock.js';
import { billingReader } from '../billing/read.js';
import { offerCategories } from '../billing/upsale-sql.js';
import { closeService, insertService, withVgroupLocked } from '../billing/write.js';
import type { Logger } from '../log.js';
import { isDuplicateKey, type SaleKind, type SaleRecord, UpsaleJournal } from '../state/upsale-journal.js';
import { applicableTariffs, closingInstant, decideSale, type SaleDecision } from './decide.js';
import { conflict, invalid } from './errors.js';
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

/** A recorded transaction may only be repeated as the same sale. */
function assertSameSale(r: SaleRecord, kind: SaleKind, q: SaleQuery, vgId: number | null): void {
  const differs: string[] = [];
  if (r.kind !== kind) differs.push(`it is a ${r.kind}-subscription transaction`);
  if (r.newOfferId !== q.newOfferId) differs.push(`newOfferId was ${r.newOfferId}`);
  if (kind === 'replace' && r.oldOfferId !== (q.oldOfferId ?? null))
    differs.push(`oldOfferId was ${r.oldOfferId}`);
  if (vgId !== null && r.vgId !== vgId) differs.push('it was for another account');
  if (q.billingTransactionId !== undefined && q.billingTransactionId !== r.billingTransactionId) {
    differs.push('billingTransactionId does not match the one ensure answered');
  }
  if (differs.length > 0)
    throw conflict(`qsTransactionId ${q.qsTransactionId} is already used: ${differs.join('; ')}`);
}

function request(kind: SaleKind, q: SaleQuery) {
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

async function decide(
  deps: SaleDeps,
  db: Knex,
  vgId: number,
  kind: SaleKind,
  q: SaleQuery,
  now: Date,
  start: Date,
) {
  const account = await billingReader(db, deps.clock).loadAccount(vgId, now);
  const offers = account
    ? await offerCategories(db, applicableTariffs(account, now), q.newOfferId, now, deps.clock)
    : [];
  return decideSale({
    account,
    offers,
    request: request(kind, q),
    now,
    start,
    desired: { usernamePrefix: deps.usernamePrefix, emailTemplate: deps.emailTemplate },
  });
}

function resolveDeps(deps: SaleDeps) {
  return {
    knex: deps.knex,
    reader: billingReader(deps.knex, deps.clock),
    tablePrefix: deps.tablePrefix,
    usernamePrefix: deps.usernamePrefix,
  };
}

export async function ensureSale(deps: SaleDeps, kind: SaleKind, q: SaleQuery): Promise<SaleOutcome> {
  const journal = new UpsaleJournal(deps.tablePrefix);
  const now = deps.now();
  const prior = await journal.get(deps.knex, q.qsTransactionId);
  if (prior) {
    assertSameSale(prior, kind, q, null);
    // spec: an ensure of an already committed transaction answers operation_commited
    if (prior.state === 'committed')
      return { answer: committedAnswer(prior, deps.clock), vgId: prior.vgId, reason: 'already committed' };
  }
  const found = await resolveAccount(resolveDeps(deps), q, now);
  if (found.vgId === null)
    return { answer: { result: 'no_subscription_rules' }, vgId: null, reason: found.reason };
  if (prior) assertSameSale(prior, kind, q, found.vgId);

  const decision = await decide(deps, deps.knex, found.vgId, kind, q, now, now);
  if (decision.result !== 'sell') return refusal(decision, found.vgId);
  if (prior) {
    return {
      answer: { result: 'operation_ensured', billingTransactionId: prior.billingTransactionId },
      vgId: found.vgId,
      reason: 'ensured again',
    };
  }

  // The reservation holds no money: commit checks the balance again under the row lock.
  const sale = {
    qsTransactionId: q.qsTransactionId,
    billingTransactionId: randomUUID(),
    vgId: found.vgId,
    ...request(kind, q),
  };
  if (await journal.insertEnsured(deps.knex, sale, now)) {
    return {
      answer: { result: 'operation_ensured', billingTransactionId: sale.billingTransactionId },
      vgId: found.vgId,
      reason: `price ${decision.price}`,
    };
  }
  // a concurrent ensure or commit of the same transaction got there first: answer as it did
  const twin = await journal.get(deps.knex, q.qsTransactionId);
  if (!twin) throw new Error(`upsale ${q.qsTransactionId}: journal refused the id but has no row`);
  assertSameSale(twin, kind, q, found.vgId);
  if (twin.state === 'committed')
    return { answer: committedAnswer(twin, deps.clock), vgId: twin.vgId, reason: 'already committed' };
  return {
    answer: { result: 'operation_ensured', billingTransactionId: twin.billingTransactionId },
    vgId: twin.vgId,
    reason: 'ensured concurrently',
  };
}

export async function commitSale(deps: SaleDeps, kind: SaleKind, q: SaleQuery): Promise<SaleOutcome> {
  const journal = new UpsaleJournal(deps.tablePrefix);
  const now = wholeSecond(deps.now());
  const start = wholeSecond(q.serviceStartTimestamp ?? now);

  // Two rounds at most: a duplicate key in the first means a concurrent twin committed under
  // another account's lock (a forged or confused request); the second round answers from it.
  for (let round = 1; ; round++) {
    const prior = await journal.get(deps.knex, q.qsTransactionId);
    if (prior) {
      assertSameSale(prior, kind, q, null);
      if (prior.state === 'committed')
        return { answer: committedAnswer(prior, deps.clock), vgId: prior.vgId, reason: 'already committed' };
    }
    // checked only for a commit still to be made: a repeat, however late, answers from the journal
    if (
      start.getTime() < now.getTime() - START_PAST_MS ||
      start.getTime() > now.getTime() + START_FUTURE_MS
    ) {
      throw invalid('serviceStartTimestamp must lie between 24 hours ago and 31 days ahead');
    }
    const found = await resolveAccount(resolveDeps(deps), q, now);
    if (found.vgId === null)
      return { answer: { result: 'no_subscription_rules' }, vgId: null, reason: found.reason };
    const vgId = found.vgId;
    if (prior) assertSameSale(prior, kind, q, vgId);

    try {
      const outcome = await withVgroupLocked(deps.knex, vgId, async (trx): Promise<SaleOutcome> => {
        // under the lock: what an earlier holder committed is visible now (write.ts says why)
        const reserved = await journal.get(trx, q.qsTransactionId);
        if (reserved) {
          assertSameSale(reserved, kind, q, vgId);
          if (reserved.state === 'committed')
            return { answer: committedAnswer(reserved, deps.clock), vgId, reason: 'committed concurrently' };
        }
        // a trial granted at ensure stays granted when the commit doesn't repeat trialDays
        const sale = reserved && q.trialDays === undefined ? { ...q, trialDays: reserved.trialDays } : q;
        const decision = await decide(deps, trx, vgId, kind, sale, now, start);
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
        const record: SaleRecord = {
          qsTransactionId: q.qsTransactionId,
          billingTransactionId: reserved?.billingTransactionId ?? q.billingTransactionId ?? randomUUID(),
          ...request(kind, sale),
          state: 'committed',
          vgId,
          serviceId,
          closedServiceIds: closed,
          billingStartAt: start,
        };
        await journal.recordCommit(trx, record, reserved !== null, now);
        const how = reserved ? 'after ensure' : 'without a prior ensure';
        return {
          answer: committedAnswer(record, deps.clock),
          vgId,
          reason: `service ${serviceId} on tariff ${decision.offer.tarId}${closed.length ? `, closed ${closed.join(', ')}` : ''} (${how})`,
        };
      });
      // the vgroup vanished (or became a template) between resolving and locking
      return outcome ?? { answer: { result: 'no_subscription_rules' }, vgId, reason: 'unknown account' };
    } catch (err) {
      if (round === 1 && isDuplicateKey(err)) continue;
      throw err;
    }
  }
}
