// Several "platforms" selling into one billing at once, for the interleaving property of
// fuzz.property.test.ts: a scenario is a handful of sales (some reusing another sale's
// qsTransactionId, as a confused or hostile platform would) and a schedule of ensures and
// commits, in batches sent concurrently. `play` sends it through the HTTP routes and records every
// answer; `disagreements` lists each way the answers and the billing rows fail to tell the same
// story (empty = they agree).

import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { OFFERS, type OfferKey } from '../fixture/catalogue.js';
import { A, type Answer, basicsInForce, call, loginOf, type Query } from './support.js';

/** Accounts sold to: two share an agreement (ivanovMain), one has an additional planned later (svcFuture). */
export const POOL = [A.svcBasic, A.inetTvA, A.svcFuture, A.inetTvB, A.svcNoEmail];
/** What each holds in the sample: replaces mostly name one of these, sales mostly another offer. */
const HELD: Record<number, string[]> = {
  [A.svcBasic.vgId]: ['100', '5010', '5011'],
  [A.inetTvA.vgId]: ['101', '5010'],
  [A.svcFuture.vgId]: ['100'],
  [A.inetTvB.vgId]: ['100', '5013'],
  [A.svcNoEmail.vgId]: ['100'],
};

/** 3 times in 4 an element of `preferred` (when it has one), else any of `all`. */
function mostly(preferred: string[], all: string[], n: number): string {
  const list = n % 4 !== 0 && preferred.length > 0 ? preferred : all;
  return list[(n >> 2) % list.length]!;
}
const BASICS = ['100', '101', '102'];
const ADDITIONALS = ['5010', '5011', '5012', '5013'];

export interface SaleSpec {
  vgId: number;
  kind: 'add' | 'replace';
  newOfferId: string;
  /** replace only: of the same kind as newOfferId (a basic for a basic) */
  oldOfferId?: string;
  trialDays?: number;
  /** minutes from now of the commit's serviceStartTimestamp */
  startInMinutes?: number;
  /** use the qsTransactionId of this earlier sale instead of an own one */
  reuses?: number;
}

export interface Step {
  sale: number;
  op: 'ensure' | 'commit' | 'forged';
  /** sent together with the step before it (same batch) */
  together: boolean;
}

export interface Scenario {
  sales: SaleSpec[];
  steps: Step[];
}

const sale = fc
  .record({
    // most sales on two accounts, so that they meet
    account: fc.constantFrom(0, 1, 2, 3, 4, 3, 4, 4),
    kind: fc.constantFrom<'add' | 'replace'>('add', 'add', 'replace'),
    basic: fc.constantFrom(true, true, false),
    pick: fc.nat(),
    old: fc.nat(),
    trialDays: fc.constantFrom(undefined, 0, 0, 5),
    startInMinutes: fc.constantFrom(undefined, undefined, -60, 2 * 24 * 60),
    // 1 sale in 5 takes the id of an earlier one (a confused or hostile platform)
    reuse: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
  })
  .map((d) => {
    const vgId = POOL[d.account]!.vgId;
    const offers = d.basic ? BASICS : ADDITIONALS;
    const held = offers.filter((o) => HELD[vgId]!.includes(o));
    const spec: SaleSpec = {
      vgId,
      kind: d.kind,
      newOfferId: mostly(
        offers.filter((o) => !held.includes(o)),
        offers,
        d.pick,
      ),
    };
    if (d.kind === 'replace') spec.oldOfferId = mostly(held, offers, d.old);
    if (d.trialDays !== undefined) spec.trialDays = d.trialDays;
    if (d.startInMinutes !== undefined) spec.startInMinutes = d.startInMinutes;
    return { spec, reuse: d.reuse };
  });

/**
 * Each sale is a platform's script: an ensure, then commits (with the id it was answered, or a
 * forged one) and maybe an ensure again; the scripts are interleaved at random, each keeping its
 * own order, and cut into batches of steps sent at once.
 */
export const scenario: fc.Arbitrary<Scenario> = fc
  .array(sale, { minLength: 2, maxLength: 8 })
  .chain((drafts) => {
    const sales = drafts.map(
      ({ spec, reuse }, i): SaleSpec => (reuse !== null && i > 0 ? { ...spec, reuses: reuse % i } : spec),
    );
    const script = fc.array(fc.constantFrom<Step['op']>('commit', 'commit', 'commit', 'forged', 'ensure'), {
      minLength: 1,
      maxLength: 3,
    });
    return fc.tuple(
      fc.constant(sales),
      fc.array(script, { minLength: sales.length, maxLength: sales.length }),
      fc.infiniteStream(fc.tuple(fc.nat(), fc.boolean(), fc.boolean())),
      // a race: every sale ensured at once first, then the rest in bigger batches
      fc.boolean(),
    );
  })
  .map(([sales, scripts, choices, race]) => {
    const queues = scripts.map((ops): Step['op'][] => ['ensure', ...ops]);
    const steps: Step[] = [];
    if (race) for (const [i, q] of queues.entries()) steps.push({ sale: i, op: q.shift()!, together: i > 0 });
    const next = choices[Symbol.iterator]();
    for (let n = 0; ; n++) {
      const waiting = queues.map((q, i) => (q.length > 0 ? i : -1)).filter((i) => i >= 0);
      if (waiting.length === 0) break;
      const [pick, a, b] = next.next().value as [number, boolean, boolean];
      const i = waiting[pick % waiting.length]!;
      // together 1 time in 4 (small batches: a commit can follow its ensure), 3 in 4 in a race
      const together = n > 0 && (race ? a || b : a && b);
      steps.push({ sale: i, op: queues[i]!.shift()!, together });
    }
    return { sales, steps };
  });

export interface Sent {
  step: Step;
  batch: number;
  qs: string;
  query: Query;
  answer: Answer;
}

export function qsOf(s: Scenario, i: number, run: string): string {
  const own = s.sales[i]!.reuses;
  return own === undefined ? `${run}-${i}` : qsOf(s, own, run);
}

function queryOf(spec: SaleSpec, qs: string): Query {
  return {
    accountLogin: loginOf(spec.vgId),
    newOfferId: spec.newOfferId,
    qsTransactionId: qs,
    ...(spec.oldOfferId === undefined ? {} : { oldOfferId: spec.oldOfferId }),
    ...(spec.trialDays === undefined ? {} : { trialDays: spec.trialDays }),
  };
}

/** Sends the schedule, batch by batch; each sale commits with the billingTransactionId it was answered. */
export async function play(app: FastifyInstance, s: Scenario, run: string): Promise<Sent[]> {
  const batches: Step[][] = [];
  for (const step of s.steps) {
    if (step.together && batches.length > 0) batches.at(-1)!.push(step);
    else batches.push([step]);
  }
  const answered = new Map<number, string>();
  const sent: Sent[] = [];
  for (const [batch, steps] of batches.entries()) {
    await Promise.all(
      steps.map(async (step) => {
        const spec = s.sales[step.sale]!;
        const qs = qsOf(s, step.sale, run);
        let query = queryOf(spec, qs);
        if (step.op !== 'ensure') {
          const start = spec.startInMinutes;
          query = {
            ...query,
            billingTransactionId:
              step.op === 'forged' ? `forged-${step.sale}` : (answered.get(step.sale) ?? 'never-answered'),
            ...(start === undefined
              ? {}
              : { serviceStartTimestamp: new Date(Date.now() + start * 60_000).toISOString() }),
          };
        }
        const answer = await call(app, `${spec.kind}/${step.op === 'ensure' ? 'ensure' : 'commit'}`, query);
        const id = answer.body.billingTransactionId;
        if (answer.status === 200 && typeof id === 'string') answered.set(step.sale, id);
        sent.push({ step, batch, qs, query, answer });
      }),
    );
  }
  return sent;
}

const RESULTS = new Set([
  'operation_ensured',
  'operation_commited',
  'no_action_required',
  'no_sufficient_balance',
  'no_subscription_rules',
]);

const price = (uuid: string) => Math.round(Number(OFFERS[uuid as OfferKey].price) * 100);

/** Everything in which the answers and the billing disagree, as readable lines. */
export async function disagreements(knex: Knex, s: Scenario, sent: Sent[], run: string): Promise<string[]> {
  const out: string[] = [];
  const journal = new Map<string, Record<string, unknown>>(
    (await knex('lifestream_upsale').where('qs_transaction_id', 'like', `${run}-%`)).map((j) => [
      String(j.qs_transaction_id),
      j,
    ]),
  );
  const rows: Record<string, unknown>[] = await knex('services as s')
    .join('service_categories as c', function on() {
      this.on('c.tar_id', 's.tar_id').andOn('c.serv_cat_idx', 's.serv_cat_idx');
    })
    .where('s.external_data', 'like', `lifestream:qs=${run}-%`)
    .select(
      's.service_id',
      's.vg_id',
      's.timefrom',
      's.timeto',
      's.state',
      's.need_calc',
      's.external_data',
      'c.uuid',
    );
  const say = (what: string, x?: unknown) =>
    out.push(x === undefined ? what : `${what}: ${JSON.stringify(x)}`);

  // every answer is a decision or a refusal of the request, never a failure
  for (const x of sent) {
    const { status, body } = x.answer;
    const commit = x.step.op !== 'ensure';
    const ok =
      (status === 200 &&
        RESULTS.has(String(body.result)) &&
        !(commit && body.result === 'operation_ensured')) ||
      status === 409 ||
      (commit && status === 404);
    if (!ok) say('unexpected answer', x);
  }

  const qsIds = new Set(sent.map((x) => x.qs));
  for (const qs of qsIds) {
    const j = journal.get(qs);
    const mine = sent.filter((x) => x.qs === qs);
    const sold = rows.filter((r) => r.external_data === `lifestream:qs=${qs}`);
    const committed = mine.filter((x) => x.answer.body.result === 'operation_commited');
    const ensured = mine.filter((x) => x.answer.body.result === 'operation_ensured');
    if ((ensured.length > 0 || committed.length > 0) && !j)
      say('answered as reserved, but no journal row', qs);
    if (!j) {
      if (sold.length > 0) say('rows without a journal row', sold);
      continue;
    }
    const billingId = String(j.billing_transaction_id);
    for (const x of ensured)
      if (x.answer.body.billingTransactionId !== billingId) say('ensured with another id', x);
    const isCommitted = j.state === 'committed';
    if (isCommitted !== committed.length > 0)
      say('journal state vs commit answers', { qs, state: j.state, committed });
    if (isCommitted) {
      // instants compared, not texts: the answer may carry the billing's offset
      const start = new Date(j.billing_start_at as Date).getTime();
      const answered = (x: Sent) => Date.parse(String(x.answer.body.billingStartTimestamp));
      for (const x of committed) {
        const { result, billingTransactionId, billingStartTimestamp, ...rest } = x.answer.body;
        if (
          result !== 'operation_commited' ||
          billingTransactionId !== billingId ||
          typeof billingStartTimestamp !== 'string' ||
          answered(x) !== start ||
          Object.keys(rest).length > 0
        )
          say('commit answers differ from the journal', { x, j });
        if (x.step.op !== 'ensure' && x.query.billingTransactionId !== billingId)
          say('committed with a forged id', x);
      }
      const one = sold.length === 1 ? sold[0]! : null;
      if (!one) say('a committed sale must have exactly one row', { qs, sold });
      else if (
        Number(one.vg_id) !== Number(j.vg_id) ||
        String(one.uuid).trim() !== j.new_offer_id ||
        new Date(one.timefrom as Date).getTime() !== start
      )
        say('the row is not the sale answered', { j, one });
    } else if (sold.length > 0) say('rows of a sale never committed', sold);
    // an accepted answer went to the sale the id is bound to, never to another one
    for (const x of [...ensured, ...committed]) {
      const spec = s.sales[x.step.sale]!;
      const bound =
        spec.vgId === Number(j.vg_id) &&
        spec.kind === j.kind &&
        spec.newOfferId === j.new_offer_id &&
        (spec.kind === 'add' || (spec.oldOfferId ?? null) === j.old_offer_id) &&
        (spec.trialDays === undefined || spec.trialDays === Number(j.trial_days));
      if (!bound) say('an accepted answer for another sale than the bound one', { x, j });
    }
  }

  // one basic per account, now and once the planned ones start
  for (const a of POOL) {
    for (const at of [new Date(), new Date(Date.now() + 3 * 86400_000)]) {
      const basics = await basicsInForce(knex, a.vgId, at);
      if (basics.length > 1) say(`two basics on ${a.vgId} at ${at.toISOString()}`, basics);
    }
  }

  // one receipt: in one batch, of the basic sales ensured before it, one commits at most per account
  const firstEnsured = new Map<string, number>();
  const firstCommitted = new Map<string, Sent>();
  for (const x of [...sent].sort((p, q) => p.batch - q.batch)) {
    if (x.answer.body.result === 'operation_ensured' && !firstEnsured.has(x.qs))
      firstEnsured.set(x.qs, x.batch);
    if (x.answer.body.result === 'operation_commited' && !firstCommitted.has(x.qs))
      firstCommitted.set(x.qs, x);
  }
  const receipts = new Map<string, string[]>();
  for (const [qs, x] of firstCommitted) {
    const j = journal.get(qs);
    if (!j || !BASICS.includes(String(j.new_offer_id))) continue;
    if ((firstEnsured.get(qs) ?? x.batch) >= x.batch) continue;
    const key = `${j.vg_id}@${x.batch}`;
    receipts.set(key, [...(receipts.get(key) ?? []), qs]);
  }
  for (const [key, ids] of receipts) if (ids.length > 1) say(`two basic receipts in one batch (${key})`, ids);

  // no double spend: what paid sales still owe an agreement fits in its balance + credit
  const now = Date.now();
  const owed = new Map<number, number>();
  for (const r of rows) {
    const j = journal.get(String(r.external_data).replace('lifestream:qs=', ''));
    const open = new Date(r.timeto as Date).getTime();
    const pending = Number(r.state) === 1 && Number(r.need_calc) === 1 && (Number.isNaN(open) || open > now);
    if (!j || Number(j.trial_days) !== 0 || !pending) continue;
    const agreement = POOL.find((a) => a.vgId === Number(r.vg_id))!.agrmId;
    owed.set(agreement, (owed.get(agreement) ?? 0) + price(String(r.uuid).trim()));
  }
  for (const [agrmId, kopecks] of owed) {
    const a = await knex('agreements').where({ agrm_id: agrmId }).first('balance', 'credit');
    const available = Math.round((Number(a.balance) + Number(a.credit)) * 100);
    if (kopecks > available)
      say(`agreement ${agrmId} owes ${kopecks / 100} for paid sales, has ${available / 100}`);
  }
  return out;
}
