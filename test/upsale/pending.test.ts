// Pending charges count, on both servers through the HTTP routes. A row this service wrote is
// charged by the billing core only when it activates it (state 1 → 3), so until then its price is
// still owed: the balance check deducts it, on every account of the agreement. Sales in a row, in
// parallel on one account and in parallel on two accounts of one agreement, on a balance that
// covers one of them: exactly one is sold. Then which rows count and which don't.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/db.js';
import {
  A,
  call,
  ensureAllThenCommitAll,
  journalRow,
  loginOf,
  type Query,
  sell,
  servicesFingerprint,
  soldRows,
  txId,
  type UpsaleFixture,
  upsaleFixture,
} from './support.js';

describe.each(DIALECTS)('pending charges on %s', (dialect) => {
  let f: UpsaleFixture;
  let original: Record<string, unknown>[];

  // lebedev: svcFuture alone on its agreement (basic 100; 5012 planned in 3 days, state 1, not ours)
  const lebedev = A.svcFuture;
  // ivanovMain: svcBasic (layout 1, tariff 10) and inetTvA (layout 2, tariff 20) share one agreement
  const ivanov = [A.svcBasic, A.inetTvA];
  const vgIds = [lebedev.vgId, ...ivanov.map((a) => a.vgId)];

  beforeAll(async () => {
    f = await upsaleFixture(dialect, 'upspend');
    // the figures: a sale of 379.00 and one of 299.00 on a balance of 500.00
    await f.knex('serv_category_prices').where({ tar_id: 10, serv_cat_idx: 4 }).update({ above: '379' }); // 5010
    await f
      .knex('serv_category_prices')
      .whereIn('tar_id', [10, 20])
      .andWhere({ serv_cat_idx: 7 })
      .update({ above: '299' }); // 5013
    original = await f.knex('services').whereIn('vg_id', vgIds).select('service_id', 'timeto', 'state');
  });
  afterAll(async () => f?.close());

  beforeEach(async () => {
    // back to the sample on these accounts: nothing sold, nothing closed, nothing activated
    await f
      .knex('services')
      .whereIn('vg_id', vgIds)
      .andWhere('external_data', 'like', 'lifestream:%')
      .delete();
    for (const r of original) {
      await f
        .knex('services')
        .where({ service_id: r.service_id })
        .update({ timeto: r.timeto, state: r.state });
    }
    await f.knex('agreements').where({ agrm_id: lebedev.agrmId }).update({ balance: '500', credit: '0' });
    await f.knex('agreements').where({ agrm_id: A.svcBasic.agrmId }).update({ balance: '350', credit: '0' });
  });

  const q = (vgId: number, newOfferId: string, extra: Query = {}) => ({
    accountLogin: loginOf(vgId),
    newOfferId,
    qsTransactionId: txId(`pend-${newOfferId}`),
    ...extra,
  });
  const sold = (vgId: number) =>
    f
      .knex('services')
      .where({ vg_id: vgId })
      .andWhere('external_data', 'like', 'lifestream:%')
      .orderBy('service_id');

  /** The qsTransactionIds of the rows sold on the account, in order. */
  const soldIds = async (vgId: number) =>
    (await sold(vgId)).map((r) => String(r.external_data).replace('lifestream:qs=', ''));

  it('in a row: 379.00 sold, then 299.00 is refused at ensure; the billing holds the first only', async () => {
    const q379 = q(lebedev.vgId, '5010');
    const first = await sell(f.app, 'add', q379);
    expect(first.commit?.body.result).toBe('operation_commited');
    const print = await servicesFingerprint(f.knex);
    const second = await sell(f.app, 'add', q(lebedev.vgId, '5013'));
    expect(second.ensure.body).toEqual({ result: 'no_sufficient_balance' });
    expect(await servicesFingerprint(f.knex)).toBe(print);
    expect(await soldIds(lebedev.vgId)).toEqual([q379.qsTransactionId]);
  });

  it('in a row after both were ensured: the second commit is refused and writes nothing', async () => {
    const [q379, q299] = [q(lebedev.vgId, '5010'), q(lebedev.vgId, '5013')];
    const e379 = await call(f.app, 'add/ensure', q379);
    const e299 = await call(f.app, 'add/ensure', q299);
    expect([e379.body.result, e299.body.result]).toEqual(['operation_ensured', 'operation_ensured']);
    const c379 = await call(f.app, 'add/commit', {
      ...q379,
      billingTransactionId: e379.body.billingTransactionId as string,
    });
    expect(c379.body.result).toBe('operation_commited');
    const c299 = await call(f.app, 'add/commit', {
      ...q299,
      billingTransactionId: e299.body.billingTransactionId as string,
    });
    expect(c299.body).toEqual({ result: 'no_sufficient_balance' });
    expect(await soldIds(lebedev.vgId)).toEqual([q379.qsTransactionId]);
    expect(await journalRow(f.knex, q299.qsTransactionId)).toMatchObject({
      state: 'ensured',
      service_id: null,
    });
  });

  it('in parallel on one account: exactly one of the two is sold, and it is the one the billing holds', async () => {
    const sales = [q(lebedev.vgId, '5010'), q(lebedev.vgId, '5013')];
    const { commits } = await ensureAllThenCommitAll(
      f.app,
      sales.map((s) => ({ kind: 'add', q: s })),
    );
    const results = commits.map((c) => c.body.result);
    expect([...results].sort()).toEqual(['no_sufficient_balance', 'operation_commited']);
    const winner = sales[results.indexOf('operation_commited')]!;
    expect(await soldIds(lebedev.vgId)).toEqual([winner.qsTransactionId]);
  });

  it('in parallel on two accounts of one agreement (350.00, 299.00 each): exactly one is sold', async () => {
    for (let round = 0; round < 3; round++) {
      if (round > 0) {
        await f
          .knex('services')
          .whereIn('vg_id', vgIds)
          .andWhere('external_data', 'like', 'lifestream:%')
          .delete();
      }
      const sales = ivanov.map((a) => q(a.vgId, '5013'));
      const { ensures, commits } = await ensureAllThenCommitAll(
        f.app,
        sales.map((s) => ({ kind: 'add', q: s })),
      );
      expect(ensures.map((e) => e.body.result)).toEqual(['operation_ensured', 'operation_ensured']);
      const results = commits.map((c) => c.body.result);
      expect([...results].sort()).toEqual(['no_sufficient_balance', 'operation_commited']);
      const w = results.indexOf('operation_commited');
      expect(await soldIds(ivanov[w]!.vgId)).toEqual([sales[w]!.qsTransactionId]);
      expect(await soldIds(ivanov[1 - w]!.vgId)).toEqual([]);
    }
  });

  it('once the billing activates and charges the row (state 3, balance down), it counts once, in the balance', async () => {
    const q379 = q(lebedev.vgId, '5010');
    expect((await sell(f.app, 'add', q379)).commit?.body.result).toBe('operation_commited');
    const ensures = async () => [
      (await call(f.app, 'add/ensure', q(lebedev.vgId, '5011'))).body.result, // 99.00
      (await call(f.app, 'add/ensure', q(lebedev.vgId, '5013'))).body.result, // 299.00
    ];
    // 500.00 - 379.00 pending = 121.00
    expect(await ensures()).toEqual(['operation_ensured', 'no_sufficient_balance']);
    // the billing core activates the sale: charges the balance, state 3
    await f
      .knex('services')
      .where({ external_data: `lifestream:qs=${q379.qsTransactionId}` })
      .update({ state: 3 });
    await f.knex('agreements').where({ agrm_id: lebedev.agrmId }).update({ balance: '121' });
    // 121.00, nothing pending: the same answers, not 121.00 - 379.00
    expect(await ensures()).toEqual(['operation_ensured', 'no_sufficient_balance']);
  });

  it('a trial costs nothing now, but its row is still owed: a paid sale after it counts it', async () => {
    expect((await sell(f.app, 'add', q(lebedev.vgId, '5010', { trialDays: 7 }))).commit?.body.result).toBe(
      'operation_commited',
    );
    // 500 - 379 = 121 < 299
    expect((await sell(f.app, 'add', q(lebedev.vgId, '5013'))).ensure.body).toEqual({
      result: 'no_sufficient_balance',
    });
  });

  it('which rows count: ours (also a switch-on from the platform), state 1, need_calc 1, not ended', async () => {
    const row = await f.knex('services').where({ vg_id: lebedev.vgId, tar_id: 10, serv_cat_idx: 1 }).first();
    const ours = (patch: Record<string, unknown>) =>
      f.knex('services').insert({
        vg_id: lebedev.vgId,
        tar_id: 10,
        serv_cat_idx: 4, // 5010, 379.00
        mul: '1',
        comment: 'test',
        timefrom: '2020-01-01 00:00:00',
        timeto: '9999-12-31 23:59:59',
        need_calc: 1,
        state: 1,
        external_data: 'lifestream:platform',
        ...patch,
      });
    const buys299 = async () => (await call(f.app, 'add/ensure', q(lebedev.vgId, '5013'))).body.result;
    expect(row).toBeDefined();
    // the planned 5012 (1490.00, state 1) is not ours: it doesn't count, or nothing would sell
    expect(await buys299()).toBe('operation_ensured');

    const cases: [string, Record<string, unknown>, string][] = [
      ['a switch-on written from the platform scan', {}, 'no_sufficient_balance'],
      ['an upsale row', { external_data: 'lifestream:qs=elsewhere' }, 'no_sufficient_balance'],
      ['one that starts later', { timefrom: '2099-01-01 00:00:00' }, 'no_sufficient_balance'],
      ['one closed in the future', { timeto: '2099-01-01 00:00:00' }, 'no_sufficient_balance'],
      ['two of 5011 (mul 2): 198.00 owed, 302.00 left', { mul: '2', serv_cat_idx: 5 }, 'operation_ensured'],
      ['activated (state 3): charged into the balance already', { state: 3 }, 'operation_ensured'],
      ['not to be charged (need_calc 0)', { need_calc: 0 }, 'operation_ensured'],
      ['ended', { timeto: '2021-01-01 00:00:00' }, 'operation_ensured'],
      ['never in force (timeto = timefrom)', { timeto: '2020-01-01 00:00:00' }, 'operation_ensured'],
      ["a manager's row (no mark)", { external_data: '' }, 'operation_ensured'],
    ];
    for (const [what, patch, expected] of cases) {
      await ours(patch);
      try {
        expect({ what, result: await buys299() }).toEqual({ what, result: expected });
      } finally {
        await f.knex('services').where({ vg_id: lebedev.vgId, comment: 'test' }).delete();
      }
    }
    // mul counts: two 5011 at 99.00 leave 302.00, three leave 203.00 (< 299)
    await ours({ mul: '3', serv_cat_idx: 5 });
    expect(await buys299()).toBe('no_sufficient_balance');
  });

  it('a pending row this sale stops at once does not count: replacing it spends its money once', async () => {
    const q379 = q(lebedev.vgId, '5010');
    expect((await sell(f.app, 'add', q379)).commit?.body.result).toBe('operation_commited');
    // 5010 → 5013 now: 500 - 379 would not cover 299, but 5010 stops now and is never charged
    const replace = await sell(f.app, 'replace', { ...q(lebedev.vgId, '5013'), oldOfferId: '5010' });
    expect(replace.commit?.body.result).toBe('operation_commited');
    const [first] = await soldRows(f.knex, q379.qsTransactionId);
    expect(new Date(first!.timeto as string).getTime()).toBe(
      new Date(replace.commit?.body.billingStartTimestamp as string).getTime(),
    );
    // stopped in two days instead: it runs (and is charged) until then, so it counts
    await f
      .knex('services')
      .where({ vg_id: lebedev.vgId })
      .andWhere('external_data', 'like', 'lifestream:%')
      .delete();
    expect((await sell(f.app, 'add', q(lebedev.vgId, '5010'))).commit?.body.result).toBe(
      'operation_commited',
    );
    const later = await sell(
      f.app,
      'replace',
      { ...q(lebedev.vgId, '5013'), oldOfferId: '5010' },
      { serviceStartTimestamp: new Date(Date.now() + 2 * 86400_000).toISOString() },
    );
    expect(later.commit?.body).toEqual({ result: 'no_sufficient_balance' });
  });
});
