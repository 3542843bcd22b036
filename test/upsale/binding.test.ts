// One sale per qsTransactionId, on both servers through the HTTP routes: the id is bound at its
// first accepted ensure to the account, operation, offers and trialDays; a reuse for anything
// else is a 409 naming what differs and writes nothing, on ensure and commit, before and after
// the sale is committed. A commit needs the billingTransactionId its ensure answered: 400 when
// missing, 404 for an id never ensured, 409 for another value. Each case checks the pair: the
// answer, and the billing rows and journal after it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/db.js';
import {
  A,
  call,
  type Endpoint,
  journalRow,
  loginOf,
  type Query,
  sell,
  servicesFingerprint,
  soldRows,
  subscriptionsOf,
  txId,
  type UpsaleFixture,
  upsaleFixture,
} from './support.js';

describe.each(DIALECTS)('one sale per qsTransactionId on %s', (dialect) => {
  let f: UpsaleFixture;
  beforeAll(async () => {
    f = await upsaleFixture(dialect, 'upsbind');
  });
  afterAll(async () => f?.close());

  const journalPrint = async () =>
    JSON.stringify(await f.knex('lifestream_upsale').select('*').orderBy('qs_transaction_id'));

  /** Every call must be refused with `status`/`error` and change neither the billing nor the journal. */
  async function refusedWithoutTrace(calls: [Endpoint, Query][], status: number, error: string) {
    const before = [await servicesFingerprint(f.knex), await journalPrint()];
    const answers = [];
    for (const [endpoint, q] of calls) {
      const r = await call(f.app, endpoint, q);
      expect({ endpoint, q, status: r.status, error: r.body.error }).toEqual({ endpoint, q, status, error });
      answers.push(r.body);
    }
    expect([await servicesFingerprint(f.knex), await journalPrint()]).toEqual(before);
    return answers;
  }

  // svcFuture (lebedev, 1000 on the balance): basic 100. Tests that only ensure use a trial of
  // 5013 (2990), which no test commits on this account.
  const vgId = A.svcFuture.vgId;
  const base = () => ({
    accountLogin: loginOf(vgId),
    newOfferId: '5013',
    qsTransactionId: txId('bind'),
    trialDays: 1,
  });

  /** Each way of naming another sale with the same id, and the parameter the 409 must name. */
  const reuses = (q: Query, other: string, billingTransactionId: string): [string, Endpoint, Query][] => [
    ['account', 'add/ensure', { ...q, accountLogin: loginOf(A.svcBasic.vgId) }],
    ['account', 'add/commit', { ...q, accountLogin: loginOf(A.svcBasic.vgId), billingTransactionId }],
    ['account', 'add/ensure', { ...q, accountLogin: 'tv-nobody' }],
    ['newOfferId', 'add/ensure', { ...q, newOfferId: other }],
    ['newOfferId', 'add/commit', { ...q, newOfferId: other, billingTransactionId }],
    ['trialDays', 'add/ensure', { ...q, trialDays: 30 }],
    ['trialDays', 'add/commit', { ...q, trialDays: 30, billingTransactionId }],
    ['operation', 'replace/ensure', { ...q, oldOfferId: '100' }],
    ['operation', 'replace/commit', { ...q, oldOfferId: '100', billingTransactionId }],
    ['billingTransactionId', 'add/commit', { ...q, billingTransactionId: 'forged-0000' }],
  ];

  it.each([
    ['before', false, '5011', '5010'],
    ['after', true, '5010', '5011'],
  ])(
    'the id reused for another account, offer, trial or operation %s the commit: 409 naming it, nothing written',
    async (_when, commitFirst, offer, other) => {
      // a paid sale (trialDays 0): 5011 costs 99, 5010 299
      const q = { accountLogin: loginOf(vgId), newOfferId: offer, qsTransactionId: txId('bind') };
      const ensured = await call(f.app, 'add/ensure', q);
      expect(ensured.body.result).toBe('operation_ensured');
      const billingTransactionId = ensured.body.billingTransactionId as string;
      const committed = commitFirst ? await call(f.app, 'add/commit', { ...q, billingTransactionId }) : null;
      if (committed) expect(committed.body.result).toBe('operation_commited');

      for (const [param, endpoint, reuse] of reuses(q, other, billingTransactionId)) {
        const [body] = await refusedWithoutTrace([[endpoint, reuse]], 409, 'transaction_conflict');
        expect(body).toEqual({
          error: 'transaction_conflict',
          message: expect.stringContaining(q.qsTransactionId),
          mismatch: [param],
        });
        expect(body!.message).toContain(param);
      }
      // everything wrong at once: every parameter named
      const [all] = await refusedWithoutTrace(
        [
          [
            'replace/commit',
            {
              ...q,
              accountLogin: loginOf(A.inetTvA.vgId),
              newOfferId: '5012',
              oldOfferId: '5010',
              trialDays: 1,
              billingTransactionId: 'forged-1111',
            },
          ],
        ],
        409,
        'transaction_conflict',
      );
      expect(all!.mismatch).toEqual([
        'account',
        'operation',
        'newOfferId',
        'trialDays',
        'billingTransactionId',
      ]);

      // the sale itself is untouched: the journal still binds it to svcFuture, and the right call works
      expect(await journalRow(f.knex, q.qsTransactionId)).toMatchObject({
        vg_id: vgId,
        kind: 'add',
        new_offer_id: offer,
        trial_days: 0,
        state: commitFirst ? 'committed' : 'ensured',
      });
      const right = await call(f.app, 'add/commit', { ...q, billingTransactionId });
      expect(right.body).toEqual(
        committed?.body ?? {
          result: 'operation_commited',
          billingTransactionId,
          billingStartTimestamp: expect.any(String),
        },
      );
      expect(await soldRows(f.knex, q.qsTransactionId)).toEqual([
        expect.objectContaining({ vg_id: vgId, tar_id: 10, serv_cat_idx: offer === '5011' ? 5 : 4 }),
      ]);
      expect(await subscriptionsOf(f.knex, vgId)).toContain(offer);
      // and the other account got nothing under this id
      expect(
        await f
          .knex('services')
          .where({ vg_id: A.svcBasic.vgId, external_data: `lifestream:qs=${q.qsTransactionId}` }),
      ).toEqual([]);
    },
  );

  it('the same account named another way (the platform id instead of the login) is the same sale', async () => {
    const sokolov = A.svcExpired.vgId; // 40 on the balance: a trial
    const platformId = 'b0b0b0b0b0b0b0b0b0b0b0b0';
    await f.knex('lifestream_accounts').insert({
      vg_id: sokolov,
      platform_id: platformId,
      username: loginOf(sokolov),
      updated_at: '2026-01-01 00:00:00',
    });
    try {
      const q = {
        accountLogin: loginOf(sokolov),
        newOfferId: '5013',
        qsTransactionId: txId('named'),
        trialDays: 7,
      };
      const { ensure, commit } = await sell(f.app, 'add', q);
      expect(commit?.body.result).toBe('operation_commited');
      const byId = await call(f.app, 'add/commit', {
        accountId: platformId,
        newOfferId: '5013',
        qsTransactionId: q.qsTransactionId,
        billingTransactionId: ensure.body.billingTransactionId as string,
      });
      expect(byId.body).toEqual(commit?.body);
      // an omitted trialDays is "as bound", on ensure too
      const again = await call(f.app, 'add/ensure', {
        accountLogin: q.accountLogin,
        newOfferId: '5013',
        qsTransactionId: q.qsTransactionId,
      });
      expect(again.body).toEqual(commit?.body);
      expect(await soldRows(f.knex, q.qsTransactionId)).toHaveLength(1);
    } finally {
      await f.knex('lifestream_accounts').where({ vg_id: sokolov }).delete();
    }
  });

  it('a commit without billingTransactionId is a 400 naming it; nothing written', async () => {
    const q = base();
    expect((await call(f.app, 'add/ensure', q)).body.result).toBe('operation_ensured');
    const [body] = await refusedWithoutTrace([['add/commit', q]], 400, 'invalid_request');
    expect(body!.message).toContain('billingTransactionId');
    const [replace] = await refusedWithoutTrace(
      [['replace/commit', { ...q, oldOfferId: '100' }]],
      400,
      'invalid_request',
    );
    expect(replace!.message).toContain('billingTransactionId');
    expect(await journalRow(f.knex, q.qsTransactionId)).toMatchObject({ state: 'ensured' });
  });

  it('a commit whose qsTransactionId was never ensured is a 404, whatever billingTransactionId it carries', async () => {
    const known = base();
    const ensured = await call(f.app, 'add/ensure', known);
    // even the value another sale's ensure answered does not make a commit of this id
    const [body] = await refusedWithoutTrace(
      [
        ['add/commit', { ...base(), billingTransactionId: 'made-up' }],
        ['add/commit', { ...base(), billingTransactionId: ensured.body.billingTransactionId as string }],
        ['replace/commit', { ...base(), oldOfferId: '100', billingTransactionId: 'made-up' }],
      ],
      404,
      'unknown_transaction',
    );
    expect(body!.message).toMatch(/never ensured/);
  });

  it('an ensure that was refused binds nothing; its commit is a 404', async () => {
    const q = { ...base(), trialDays: 0 }; // 5013 costs 2990 > 1000
    expect((await call(f.app, 'add/ensure', q)).body).toEqual({ result: 'no_sufficient_balance' });
    expect(await journalRow(f.knex, q.qsTransactionId)).toBeUndefined();
    await refusedWithoutTrace(
      [['add/commit', { ...q, billingTransactionId: 'anything' }]],
      404,
      'unknown_transaction',
    );
  });

  it('concurrent first ensures of one id for two accounts: one is ensured, the other a 409', async () => {
    const qs = txId('race');
    const answers = await Promise.all(
      [vgId, A.svcBasic.vgId, vgId, A.svcBasic.vgId].map((v) =>
        call(f.app, 'add/ensure', {
          accountLogin: loginOf(v),
          newOfferId: '5013',
          qsTransactionId: qs,
          trialDays: 3,
        }),
      ),
    );
    const row = await journalRow(f.knex, qs);
    const winner = Number(row!.vg_id);
    answers.forEach((a, i) => {
      const v = [vgId, A.svcBasic.vgId, vgId, A.svcBasic.vgId][i];
      if (v === winner)
        expect(a.body).toEqual({
          result: 'operation_ensured',
          billingTransactionId: row!.billing_transaction_id,
        });
      else
        expect(a).toMatchObject({
          status: 409,
          body: { error: 'transaction_conflict', mismatch: ['account'] },
        });
    });
  });

  it('billingTransactionId is unique in the journal (a database constraint)', async () => {
    const q = base();
    const ensured = await call(f.app, 'add/ensure', q);
    const insert = f.knex('lifestream_upsale').insert({
      qs_transaction_id: txId('dup'),
      billing_transaction_id: ensured.body.billingTransactionId as string,
      kind: 'add',
      state: 'ensured',
      vg_id: vgId,
      new_offer_id: '5010',
      trial_days: 0,
    });
    await expect(insert).rejects.toThrow(/duplicate|unique/i);
  });
});
