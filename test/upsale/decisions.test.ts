// Every answer ensure can give, against the sample billing on both servers: which accounts and
// offers are refused and why, balance and credit against the price in force, trials, and how the
// account is found (platform id mapping, login without the prefix, a login shared by two agents).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/db.js';
import {
  A,
  call,
  journalRow,
  loginOf,
  servicesFingerprint,
  txId,
  type UpsaleFixture,
  upsaleFixture,
} from './support.js';

describe.each(DIALECTS)('upsale ensure decisions on %s', (dialect) => {
  let f: UpsaleFixture;
  beforeAll(async () => {
    f = await upsaleFixture(dialect, 'upsdec');
  });
  afterAll(async () => f?.close());

  const ensure = (vgId: number, newOfferId: string, extra: Record<string, string | number> = {}) =>
    call(f.app, 'add/ensure', { accountLogin: loginOf(vgId), newOfferId, qsTransactionId: txId(), ...extra });
  const replaceEnsure = (vgId: number, oldOfferId: string, newOfferId: string) =>
    call(f.app, 'replace/ensure', {
      accountLogin: loginOf(vgId),
      oldOfferId,
      newOfferId,
      qsTransactionId: txId(),
    });
  const setBalance = (agrmId: number, balance: string) =>
    f.knex('agreements').where({ agrm_id: agrmId }).update({ balance });

  it('operation_ensured: reserves in the journal, answers a billingTransactionId, writes no service', async () => {
    const before = await servicesFingerprint(f.knex);
    const qs = txId('ens');
    const r = await call(f.app, 'add/ensure', {
      accountLogin: loginOf(A.svcFuture.vgId),
      newOfferId: '5010',
      qsTransactionId: qs,
    });
    expect(r).toEqual({
      status: 200,
      body: { result: 'operation_ensured', billingTransactionId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    });
    expect(await journalRow(f.knex, qs)).toMatchObject({
      state: 'ensured',
      kind: 'add',
      vg_id: A.svcFuture.vgId,
      new_offer_id: '5010',
      billing_transaction_id: r.body.billingTransactionId,
    });
    expect(await servicesFingerprint(f.knex)).toBe(before);

    // the same ensure again: the same reservation
    const again = await call(f.app, 'add/ensure', {
      accountLogin: loginOf(A.svcFuture.vgId),
      newOfferId: '5010',
      qsTransactionId: qs,
    });
    expect(again.body).toEqual(r.body);
  });

  it('no_action_required: the offer is already in force (additional, basic, replace to the active one)', async () => {
    expect((await ensure(A.svcBasic.vgId, '5010')).body).toEqual({ result: 'no_action_required' });
    expect((await ensure(A.svcBasic.vgId, '100')).body).toEqual({ result: 'no_action_required' });
    // state 1 (on, not yet activated) counts as active too
    expect((await ensure(A.svcBasic.vgId, '5011')).body).toEqual({ result: 'no_action_required' });
    expect((await replaceEnsure(A.svcBasic.vgId, '5010', '100')).body).toEqual({
      result: 'no_action_required',
    });
  });

  it('no_sufficient_balance: balance + credit below the price; a trial skips the check', async () => {
    // lebedev: 1000 on the balance, 5013 costs 2990
    expect((await ensure(A.svcFuture.vgId, '5013')).body).toEqual({ result: 'no_sufficient_balance' });
    expect((await ensure(A.svcFuture.vgId, '5013', { trialDays: 7 })).body).toMatchObject({
      result: 'operation_ensured',
    });
    expect((await ensure(A.svcFuture.vgId, '5013', { trialDays: 0 })).body).toEqual({
      result: 'no_sufficient_balance',
    });
    // morozov: 1234.56 + credit 500 covers 1490
    expect((await ensure(A.inetTvB.vgId, '5012')).body).toMatchObject({ result: 'operation_ensured' });
  });

  it("the price is the one in force this month, not next month's rise", async () => {
    // 101 costs 349 now and 399 from next month (fixture PRICE_RISES)
    try {
      await setBalance(A.svcFuture.agrmId, '360');
      expect((await replaceEnsure(A.svcFuture.vgId, '100', '101')).body).toMatchObject({
        result: 'operation_ensured',
      });
      await setBalance(A.svcFuture.agrmId, '348.99');
      expect((await replaceEnsure(A.svcFuture.vgId, '100', '101')).body).toEqual({
        result: 'no_sufficient_balance',
      });
    } finally {
      await setBalance(A.svcFuture.agrmId, '1000');
    }
  });

  it.each([
    ['blocked by balance', A.svcBlockedBalance.vgId],
    ['blocked by the subscriber', A.svcBlockedUser.vgId],
    ['blocked by an administrator', A.svcBlockedAdmin.vgId],
    ['switched off', A.svcSwitchedOff.vgId],
    ['archived', A.svcArchived.vgId],
    ['on a terminated agreement', A.svcAgreementTerminated.vgId],
  ])('no_subscription_rules: an account %s', async (_what, vgId) => {
    expect((await ensure(vgId, '5011', { trialDays: 3 })).body).toEqual({ result: 'no_subscription_rules' });
  });

  it('no_subscription_rules: unknown accounts and logins without the prefix', async () => {
    const r = await call(f.app, 'add/ensure', {
      accountLogin: 'tv-nobody',
      newOfferId: '5010',
      qsTransactionId: txId(),
    });
    expect(r.body).toEqual({ result: 'no_subscription_rules' });
    const bare = await call(f.app, 'add/ensure', {
      accountLogin: A.svcFuture.login,
      newOfferId: '5010',
      qsTransactionId: txId(),
    });
    expect(bare.body).toEqual({ result: 'no_subscription_rules' });
    const byUnknownId = await call(f.app, 'add/ensure', {
      accountId: 'f'.repeat(24),
      newOfferId: '5010',
      qsTransactionId: txId(),
    });
    expect(byUnknownId.body).toEqual({ result: 'no_subscription_rules' });
  });

  it("no_subscription_rules: offers the account's tariffs do not sell", async () => {
    // internet-only tariff carries no TV
    expect((await ensure(A.inetOnly.vgId, '100')).body).toEqual({ result: 'no_subscription_rules' });
    // an id no tariff carries
    expect((await ensure(A.svcFuture.vgId, '7777')).body).toEqual({ result: 'no_subscription_rules' });
    // layout 3 with the multitarif ended yesterday: its tariff no longer applies
    expect((await ensure(A.inetMultiExpired.vgId, '5010', { trialDays: 1 })).body).toEqual({
      result: 'no_subscription_rules',
    });
    // replace of an offer that is not active (5012 only starts in 3 days)
    expect((await replaceEnsure(A.svcFuture.vgId, '5012', '5010')).body).toEqual({
      result: 'no_subscription_rules',
    });
    // and 5012 itself: sold from now, it would be charged twice once the planned row starts
    expect((await ensure(A.svcFuture.vgId, '5012', { trialDays: 1 })).body).toEqual({
      result: 'no_subscription_rules',
    });
  });

  it('no_subscription_rules: a category not available to the subscriber, disabled, archived, or without a price', async () => {
    const cat = f.knex('service_categories').where({ tar_id: 10, serv_cat_idx: 7 }); // 5013 on the TV tariff
    for (const patch of [{ available: 0 }, { enabled: 0 }, { archive: 1 }]) {
      await cat.clone().update(patch);
      try {
        expect((await ensure(A.svcFuture.vgId, '5013', { trialDays: 1 })).body).toEqual({
          result: 'no_subscription_rules',
        });
      } finally {
        await cat.clone().update({ available: 1, enabled: 1, archive: 0 });
      }
    }
    expect((await ensure(A.svcFuture.vgId, '5013', { trialDays: 1 })).body).toMatchObject({
      result: 'operation_ensured',
    });
    const prices = await f.knex('serv_category_prices').where({ tar_id: 10, serv_cat_idx: 7 });
    await f.knex('serv_category_prices').where({ tar_id: 10, serv_cat_idx: 7 }).delete();
    try {
      expect((await ensure(A.svcFuture.vgId, '5013', { trialDays: 1 })).body).toEqual({
        result: 'no_subscription_rules',
      });
    } finally {
      await f.knex('serv_category_prices').insert(prices);
    }
  });

  it('finds the account by the platform id in the mapping before the login', async () => {
    const platformId = 'a1b2c3d4e5f6a1b2c3d4e5f6';
    await f.knex('lifestream_accounts').insert({
      vg_id: A.svcFuture.vgId,
      platform_id: platformId,
      username: loginOf(A.svcFuture.vgId),
      updated_at: '2026-01-01 00:00:00',
    });
    try {
      const byId = await call(f.app, 'add/ensure', {
        accountId: platformId,
        newOfferId: '5010',
        qsTransactionId: txId(),
      });
      expect(byId.body).toMatchObject({ result: 'operation_ensured' });
      // the id wins over a login that names another account
      const both = await call(f.app, 'add/ensure', {
        accountId: platformId,
        accountLogin: loginOf(A.inetOnly.vgId),
        newOfferId: '5010',
        qsTransactionId: txId(),
      });
      expect(both.body).toMatchObject({ result: 'operation_ensured' });
    } finally {
      await f.knex('lifestream_accounts').where({ vg_id: A.svcFuture.vgId }).delete();
    }
  });

  it('a login shared by two agents: the vgroup with TV services, unless another is mapped under that username', async () => {
    // same-login: 1018 (TV tariff, balance 10) and 2007 (internet only). 5010 costs 299.
    const sale = () =>
      call(f.app, 'add/ensure', {
        accountLogin: `tv-${A.sameLoginUsbox.login}`,
        newOfferId: '5010',
        qsTransactionId: txId(),
      });
    expect((await sale()).body).toEqual({ result: 'no_sufficient_balance' }); // found 1018
    await f.knex('lifestream_accounts').insert({
      vg_id: A.sameLoginRadius.vgId,
      platform_id: null,
      username: `tv-${A.sameLoginRadius.login}`,
      updated_at: '2026-01-01 00:00:00',
    });
    try {
      expect((await sale()).body).toEqual({ result: 'no_subscription_rules' }); // found 2007: no TV on its tariff
    } finally {
      await f.knex('lifestream_accounts').where({ vg_id: A.sameLoginRadius.vgId }).delete();
    }
  });
});
