// Property-based fuzzing of the upsale endpoints with fast-check: random mixes of real and hostile
// query parameters (missing, repeated, overlong, non-ASCII, injection-shaped, reused transaction
// ids) and bodies (any JSON, wrong types, not JSON, oversized). Whatever arrives, the answer is a
// 200 decision or a 4xx JSON error, never a 5xx; a refusal writes nothing; a commit writes its
// services row and its journal row together or not at all.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/db.js';
import { disagreements, POOL, play, scenario } from './platforms.js';
import {
  A,
  type Endpoint,
  PREFIX,
  pathOf,
  servicesFingerprint,
  type UpsaleFixture,
  upsaleFixture,
} from './support.js';

const RUNS = 200;
/** Stands for the billingTransactionId ensure answered; replaced when the request is sent. */
const ENSURED = '<ensured>';
const ENDPOINTS: Endpoint[] = ['add/ensure', 'add/commit', 'replace/ensure', 'replace/commit'];
/** Ensures three times as often as commits: a commit only reaches the billing after its ensure. */
const endpoint = fc.constantFrom<Endpoint>(
  ...ENDPOINTS,
  ...ENDPOINTS.filter((e) => e.endsWith('ensure')).flatMap((e) => [e, e]),
);
const RESULTS = [
  'operation_ensured',
  'operation_commited',
  'no_action_required',
  'no_sufficient_balance',
  'no_subscription_rules',
];

const LOGINS = [
  A.svcBasic,
  A.svcFuture,
  A.inetTvA,
  A.inetTvB,
  A.inetMulti,
  A.svcBlockedUser,
  A.svcArchived,
  A.inetOnly,
].map((a) => `${PREFIX}${a.login}`);
const OFFERS = ['100', '101', '102', '5010', '5011', '5012', '5013', '5099', '7777'];
const FIELDS = [
  'accountLogin',
  'accountId',
  'newOfferId',
  'oldOfferId',
  'qsTransactionId',
  'trialDays',
  'billingTransactionId',
  'serviceStartTimestamp',
];

/** What a field may be spoiled with: absent, random, non-ASCII, injection-shaped, or repeated. */
const spoiled = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom(
    "' OR 1=1 --",
    '%00',
    '../../etc',
    '<script>',
    'x'.repeat(300),
    ' ',
    '',
    '1e2',
    '-1',
    '0x10',
  ),
  fc.array(fc.constantFrom(...OFFERS), { minLength: 2, maxLength: 3 }),
);

/** A request the platform could send (some fields optional), before spoiling. */
const plausible = fc.record(
  {
    accountLogin: fc.constantFrom(...LOGINS),
    accountId: fc.constantFrom('0123456789abcdef01234567', 'ffffffffffffffffffffffff'),
    newOfferId: fc.constantFrom(...OFFERS),
    oldOfferId: fc.constantFrom(...OFFERS),
    // a small pool so that transactions repeat and collide across endpoints and offers
    qsTransactionId: fc.integer({ min: 1, max: 80 }).map((n) => `fz-${n}`),
    trialDays: fc.constantFrom('0', '1', '30', '3650'),
    // ENSURED = the value the journal holds for this qsTransactionId (what its ensure answered)
    billingTransactionId: fc.constantFrom(ENSURED, ENSURED, 'bt-forged'),
    serviceStartTimestamp: fc
      .integer({ min: -30 * 60, max: 60 * 24 * 35 })
      .map((minutes) => new Date(Date.now() + minutes * 60_000).toISOString()),
  },
  { requiredKeys: ['accountLogin', 'newOfferId', 'oldOfferId', 'qsTransactionId'] },
);

/** A plausible request with up to two fields spoiled: most reach the billing, many don't. */
const query = fc
  .tuple(plausible, fc.array(fc.tuple(fc.constantFrom(...FIELDS), spoiled), { maxLength: 2 }))
  .map(([q, spoils]) => {
    const out: Record<string, string | string[] | undefined> = { ...q };
    for (const [key, v] of spoils) out[key] = v;
    return out;
  });

const json = (v: unknown) => ({ payload: JSON.stringify(v) ?? '', type: 'application/json' });

/** The context the platform documents, with values of the right types. */
const context = fc.record(
  {
    newOfferName: fc.string({ maxLength: 255 }),
    oldOfferName: fc.constantFrom('Базовый', null),
    clientIp: fc.constantFrom('203.0.113.9', '2001:db8::9'),
    userInfo: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 5 }),
    deviceInfo: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 5 }),
    appInfo: fc.constantFrom({ v: '1.0' }, null),
  },
  { requiredKeys: [] },
);

/** The same fields with wrong types or over the size limit. */
const hostileContext = fc.record(
  {
    newOfferName: fc.oneof(fc.integer(), fc.string({ minLength: 256, maxLength: 300 })),
    clientIp: fc.boolean(),
    userInfo: fc.oneof(fc.string(), fc.array(fc.integer())),
    appInfo: fc.constant({ pad: 'x'.repeat(20_000) }),
  },
  { requiredKeys: [] },
);

/** A body as it would go over the wire: none, a context, any JSON, or something that isn't JSON. */
const body = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: context.map(json) },
  { weight: 1, arbitrary: hostileContext.map(json) },
  { weight: 1, arbitrary: fc.jsonValue().map(json) },
  { weight: 1, arbitrary: fc.string().map((s) => ({ payload: s, type: 'application/json' })) },
  { weight: 1, arbitrary: fc.string({ minLength: 1 }).map((s) => ({ payload: s, type: 'text/plain' })) },
);

function urlOf(endpoint: Endpoint, q: Record<string, string | string[] | undefined>): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) qs.append(k, one);
  }
  return `${pathOf(endpoint)}?${qs.toString()}`;
}

describe.each(DIALECTS)('upsale fuzzing on %s', (dialect) => {
  let f: UpsaleFixture;
  beforeAll(async () => {
    f = await upsaleFixture(dialect, 'upsfuzz');
  });
  afterAll(async () => f?.close());

  const journalPrint = async () =>
    JSON.stringify(await f.knex('lifestream_upsale').select('*').orderBy('qs_transaction_id'));

  it('answers only 200 or 4xx, and a refusal writes nothing', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(endpoint, query, body, async (endpoint, q, b) => {
        const [services, journal] = [await servicesFingerprint(f.knex), await journalPrint()];
        if (q.billingTransactionId === ENSURED) {
          const qs = typeof q.qsTransactionId === 'string' ? q.qsTransactionId : '';
          const row = await f.knex('lifestream_upsale').where({ qs_transaction_id: qs }).first();
          q.billingTransactionId = row ? String(row.billing_transaction_id) : 'bt-never-ensured';
        }
        const res = await f.app.inject({
          method: 'POST',
          url: urlOf(endpoint, q),
          remoteAddress: '127.0.0.1',
          ...(b === undefined ? {} : { payload: b.payload, headers: { 'content-type': b.type } }),
        });
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode === 200 || (res.statusCode >= 400 && res.statusCode < 500), res.body).toBe(
          true,
        );
        const answer = res.json() as { result?: string; error?: string; message?: string };
        if (res.statusCode !== 200) {
          expect(answer).toEqual({
            error: expect.any(String),
            message: expect.any(String),
            ...(res.statusCode === 409 ? { mismatch: expect.any(Array) } : {}),
          });
          expect(await servicesFingerprint(f.knex)).toBe(services);
          expect(await journalPrint()).toBe(journal);
          return;
        }
        expect(RESULTS).toContain(answer.result);
        if (endpoint.endsWith('ensure') || answer.result !== 'operation_commited') {
          expect(await servicesFingerprint(f.knex)).toBe(services);
        }
      }),
      { numRuns: RUNS },
    );
    // the fuzzing reached the billing too, not only the validator
    expect(seen.get(200) ?? 0, JSON.stringify([...seen])).toBeGreaterThan(RUNS * 0.15);
  });

  it('every committed transaction has exactly one services row, and every sold row a committed transaction', async () => {
    const journal = await f.knex('lifestream_upsale').select('*');
    const sold = await f
      .knex('services')
      .where('external_data', 'like', 'lifestream:qs=%')
      .select('service_id', 'external_data');
    const committed = journal.filter((j) => j.state === 'committed');
    for (const j of committed) {
      const rows = sold.filter((s) => s.external_data === `lifestream:qs=${j.qs_transaction_id}`);
      expect(rows.map((r) => r.service_id)).toEqual([j.service_id]);
    }
    for (const s of sold) {
      expect(committed.map((j) => `lifestream:qs=${j.qs_transaction_id}`)).toContain(s.external_data);
    }
  });
});

// Several platforms at once: random sales (some reusing another's qsTransactionId) and a random
// interleaving of their ensures, commits and forged commits, in batches sent concurrently. Each run
// starts from the sample and ends with the answers checked against the billing (platforms.ts):
// every accepted answer is the bound sale's, every commit answer has its one services row and no
// row is without one, one basic per account, at most one basic receipt per batch of sales ensured
// before it, and no agreement owes more for paid sales than it holds.
describe.each(DIALECTS)('several platforms selling at once on %s', (dialect) => {
  let f: UpsaleFixture;
  let original: Record<string, unknown>[];
  const vgIds = POOL.map((a) => a.vgId);
  beforeAll(async () => {
    f = await upsaleFixture(dialect, 'upsplat');
    // enough for a basic or two on svcNoEmail; ivanovMain (350.00, two accounts) stays tight
    await f.knex('agreements').where({ agrm_id: A.svcNoEmail.agrmId }).update({ balance: '1500' });
    original = await f.knex('services').whereIn('vg_id', vgIds).select('service_id', 'timeto');
  });
  afterAll(async () => f?.close());

  async function backToSample() {
    await f
      .knex('services')
      .whereIn('vg_id', vgIds)
      .andWhere('external_data', 'like', 'lifestream:%')
      .delete();
    for (const r of original)
      await f.knex('services').where({ service_id: r.service_id }).update({ timeto: r.timeto });
    await f.knex('lifestream_upsale').delete();
  }

  it('never leaves the billing and the answers in disagreement', async () => {
    let run = 0;
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        await backToSample();
        const id = `pf${++run}`;
        const sent = await play(f.app, s, id);
        for (const x of sent) {
          const key = `${x.step.op}:${x.answer.body.result ?? x.answer.status}`;
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        }
        expect(await disagreements(f.knex, s, sent, id)).toEqual([]);
      }),
      { numRuns: 100 },
    );
    // the runs did sell, refuse and conflict, not only one of them
    for (const key of ['commit:operation_commited', 'ensure:operation_ensured', 'commit:409', 'forged:409'])
      expect(outcomes.get(key) ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(0);
  });
});
