// Commit on both servers: the services rows written (and closed), idempotency by qsTransactionId
// under concurrency, one basic per account under concurrent sales, commit without ensure, and the
// conflicts that are refused without writing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlDateTime } from '../../src/billing/sql-time.js';
import { buildUpsaleServer } from '../../src/upsale/server.js';
import { DIALECTS } from '../support/db.js';
import {
  A,
  basicsInForce,
  call,
  journalRow,
  loginOf,
  servicesFingerprint,
  servicesRows,
  subscriptionsOf,
  txId,
  type UpsaleFixture,
  upsaleFixture,
} from './support.js';

const OPEN = '9999-12-31T23:59:59.000Z';
const iso = (v: unknown) => new Date(v as string | Date).toISOString();

describe.each(DIALECTS)('upsale commit on %s', (dialect) => {
  let f: UpsaleFixture;
  beforeAll(async () => {
    f = await upsaleFixture(dialect, 'upscom');
  });
  afterAll(async () => f?.close());

  const soldRows = (qs: string) => f.knex('services').where({ external_data: `lifestream:qs=${qs}` });

  it('add: ensure, then commit writes one services row on the tariff that offers it', async () => {
    const vgId = A.svcFuture.vgId;
    const qs = txId('add');
    const q = { accountLogin: loginOf(vgId), newOfferId: '5010', qsTransactionId: qs };
    const ensured = await call(f.app, 'add/ensure', q);
    expect(ensured.body.result).toBe('operation_ensured');
    const before = Date.now();
    const committed = await call(f.app, 'add/commit', {
      ...q,
      billingTransactionId: ensured.body.billingTransactionId as string,
    });
    expect(committed).toEqual({
      status: 200,
      body: {
        result: 'operation_commited',
        billingTransactionId: ensured.body.billingTransactionId,
        billingStartTimestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      },
    });
    const start = new Date(committed.body.billingStartTimestamp as string).getTime();
    expect(start).toBeGreaterThan(before - 2000);
    expect(start).toBeLessThanOrEqual(Date.now());

    const rows = await soldRows(qs);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect({
      ...row,
      timefrom: iso(row.timefrom),
      timeto: iso(row.timeto),
      mul: Number(row.mul),
      // the real schema's zero date (NOT NULL): not set
      activated: f.deps.clock.fromWall(row.activated, 'services.activated'),
    }).toMatchObject({
      vg_id: vgId,
      tar_id: 10,
      serv_cat_idx: 4,
      mul: 1,
      person_id: null,
      comment: 'Smotreshka upsale',
      timefrom: committed.body.billingStartTimestamp!.toString().replace('Z', '.000Z'),
      timeto: OPEN,
      need_calc: 1,
      state: 1,
      activated: null,
    });
    expect(await journalRow(f.knex, qs)).toMatchObject({
      state: 'committed',
      service_id: row.service_id,
      vg_id: vgId,
    });
    expect(await subscriptionsOf(f.knex, vgId)).toEqual(['100', '5010']);

    // repeated: the same answer, nothing written
    const print = await servicesFingerprint(f.knex);
    const again = await call(f.app, 'add/commit', {
      ...q,
      billingTransactionId: ensured.body.billingTransactionId as string,
    });
    expect(again.body).toEqual(committed.body);
    // an ensure of a committed transaction answers operation_commited (spec)
    expect((await call(f.app, 'add/ensure', q)).body).toEqual(committed.body);
    expect(await servicesFingerprint(f.knex)).toBe(print);
  });

  it('add on layout 3 goes on the multi-tariff that offers it', async () => {
    const qs = txId('multi');
    const r = await call(f.app, 'add/commit', {
      accountLogin: loginOf(A.inetMulti.vgId),
      newOfferId: '5010',
      qsTransactionId: qs,
    });
    expect(r.body.result).toBe('operation_commited');
    expect(await soldRows(qs)).toEqual([expect.objectContaining({ tar_id: 30, serv_cat_idx: 4 })]);
    expect(await subscriptionsOf(f.knex, A.inetMulti.vgId)).toEqual(['100', '5010', '5011']);
  });

  it('replace: the old basic stops at serviceStartTimestamp, the new one starts then', async () => {
    const vgId = A.inetTvA.vgId;
    const qs = txId('repl');
    const start = new Date(Math.floor(Date.now() / 1000) * 1000 - 10 * 60_000);
    const q = { accountLogin: loginOf(vgId), oldOfferId: '101', newOfferId: '100', qsTransactionId: qs };
    const ensured = await call(f.app, 'replace/ensure', q);
    expect(ensured.body.result).toBe('operation_ensured');
    const oldRow = (await servicesRows(f.knex, vgId)).find((r) => r.tar_id === 20 && r.serv_cat_idx === 2)!;
    const committed = await call(f.app, 'replace/commit', {
      ...q,
      billingTransactionId: ensured.body.billingTransactionId as string,
      // the same instant written with an offset
      serviceStartTimestamp: new Date(start.getTime() + 3 * 3600_000).toISOString().replace('Z', '+03:00'),
    });
    expect(committed.body).toMatchObject({
      result: 'operation_commited',
      billingStartTimestamp: start.toISOString().replace('.000Z', 'Z'),
    });
    const after = await servicesRows(f.knex, vgId);
    expect(iso(after.find((r) => r.service_id === oldRow.service_id)!.timeto)).toBe(start.toISOString());
    const sold = after.find((r) => r.external_data === `lifestream:qs=${qs}`)!;
    expect({
      tar: sold.tar_id,
      idx: sold.serv_cat_idx,
      from: iso(sold.timefrom),
      to: iso(sold.timeto),
    }).toEqual({
      tar: 20,
      idx: 1,
      from: start.toISOString(),
      to: OPEN,
    });
    expect(await journalRow(f.knex, qs)).toMatchObject({
      closed_service_ids: JSON.stringify([oldRow.service_id]),
    });
    expect(await subscriptionsOf(f.knex, vgId)).toEqual(['100', '5010']);
  });

  it('adding a basic while another is active replaces it', async () => {
    const vgId = A.svcNoEmail.vgId; // basic 100, balance 250
    const r = await call(f.app, 'add/commit', {
      accountLogin: loginOf(vgId),
      newOfferId: '101',
      qsTransactionId: txId(),
      trialDays: 30,
    });
    expect(r.body.result).toBe('operation_commited');
    expect((await basicsInForce(f.knex, vgId)).map((s) => s.uuid)).toEqual(['101']);
    expect(await subscriptionsOf(f.knex, vgId)).toEqual(['101']);
  });

  it('commit without ensure: the checks run inside the commit, and it is recorded as committed', async () => {
    const vgId = A.svcBasic.vgId;
    const qs = txId('noens');
    const q = { accountLogin: loginOf(vgId), newOfferId: '5013', qsTransactionId: qs, trialDays: 14 };
    const r = await call(f.app, 'add/commit', { ...q, billingTransactionId: 'bt-from-platform' });
    expect(r.body).toMatchObject({ result: 'operation_commited', billingTransactionId: 'bt-from-platform' });
    expect(await soldRows(qs)).toEqual([
      expect.objectContaining({ comment: 'Smotreshka upsale (trial 14 d)' }),
    ]);
    expect(await journalRow(f.knex, qs)).toMatchObject({
      state: 'committed',
      trial_days: 14,
      ensured_at: null,
    });

    // and one that fails the checks writes nothing, not even a journal row
    const poor = txId('noens-poor');
    const refused = await call(f.app, 'add/commit', {
      accountLogin: loginOf(vgId),
      newOfferId: '5012',
      qsTransactionId: poor,
    });
    expect(refused.body).toEqual({ result: 'no_sufficient_balance' });
    expect(await soldRows(poor)).toEqual([]);
    expect(await journalRow(f.knex, poor)).toBeUndefined();
  });

  it('a trial granted at ensure holds at a commit that does not repeat trialDays', async () => {
    const vgId = A.svcBasic.vgId; // 350 on the balance, 5012 costs 1490
    const qs = txId('trial');
    const q = { accountLogin: loginOf(vgId), newOfferId: '5012', qsTransactionId: qs };
    expect((await call(f.app, 'add/ensure', { ...q, trialDays: 7 })).body.result).toBe('operation_ensured');
    expect((await call(f.app, 'add/commit', q)).body.result).toBe('operation_commited');
    expect(await soldRows(qs)).toEqual([
      expect.objectContaining({ comment: 'Smotreshka upsale (trial 7 d)' }),
    ]);
    expect(await journalRow(f.knex, qs)).toMatchObject({ trial_days: 7 });
  });

  it('commit re-checks the rules: an account blocked after ensure is refused, and sold once unblocked', async () => {
    const vgId = A.svcExpired.vgId; // basic 100, balance 40; 5011 costs 99 → a trial
    const qs = txId('block');
    const q = { accountLogin: loginOf(vgId), newOfferId: '5011', qsTransactionId: qs, trialDays: 3 };
    const ensured = await call(f.app, 'add/ensure', q);
    expect(ensured.body.result).toBe('operation_ensured');
    await f.knex('vgroups').where({ vg_id: vgId }).update({ blocked: 3 });
    const refused = await call(f.app, 'add/commit', q);
    expect(refused.body).toEqual({ result: 'no_subscription_rules' });
    expect(await soldRows(qs)).toEqual([]);
    expect(await journalRow(f.knex, qs)).toMatchObject({ state: 'ensured' });
    await f.knex('vgroups').where({ vg_id: vgId }).update({ blocked: 0 });
    const sold = await call(f.app, 'add/commit', q);
    expect(sold.body).toMatchObject({
      result: 'operation_commited',
      billingTransactionId: ensured.body.billingTransactionId,
    });
    expect(await soldRows(qs)).toHaveLength(1);
  });

  it('a qsTransactionId reused for another sale, or a wrong billingTransactionId, is a 409 and writes nothing', async () => {
    const vgId = A.svcFuture.vgId;
    const qs = txId('conf');
    const q = { accountLogin: loginOf(vgId), newOfferId: '5011', qsTransactionId: qs };
    expect((await call(f.app, 'add/ensure', q)).body.result).toBe('operation_ensured');
    const print = await servicesFingerprint(f.knex);
    const cases = [
      call(f.app, 'add/commit', { ...q, billingTransactionId: 'not-what-ensure-said' }),
      call(f.app, 'add/commit', { ...q, newOfferId: '5012' }),
      call(f.app, 'add/ensure', { ...q, accountLogin: loginOf(A.svcBasic.vgId) }),
      call(f.app, 'replace/commit', { ...q, oldOfferId: '100' }),
    ];
    for (const r of await Promise.all(cases)) {
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ error: 'transaction_conflict', message: expect.stringContaining(qs) });
    }
    expect(await servicesFingerprint(f.knex)).toBe(print);
    expect(await journalRow(f.knex, qs)).toMatchObject({ state: 'ensured', new_offer_id: '5011' });
  });

  it('serviceStartTimestamp outside [-24 h, +31 d] is a 400 and writes nothing', async () => {
    const print = await servicesFingerprint(f.knex);
    for (const ts of [
      '2020-01-01T00:00:00Z',
      new Date(Date.now() + 40 * 86400_000).toISOString(),
      '2026-11-25T20:07:37',
      'yesterday',
    ]) {
      const r = await call(f.app, 'add/commit', {
        accountLogin: loginOf(A.svcFuture.vgId),
        newOfferId: '5011',
        qsTransactionId: txId(),
        serviceStartTimestamp: ts,
      });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({
        error: 'invalid_request',
        message: expect.stringContaining('serviceStartTimestamp'),
      });
    }
    expect(await servicesFingerprint(f.knex)).toBe(print);
  });

  it('a commit repeated long after, with a start now out of the window, still answers as the first', async () => {
    const vgId = A.svcFuture.vgId;
    const q = {
      accountLogin: loginOf(vgId),
      newOfferId: '5012',
      qsTransactionId: txId('late'),
      trialDays: 1,
      serviceStartTimestamp: new Date(Date.now() - 23 * 3600_000).toISOString(),
    };
    const first = await call(f.app, 'add/commit', q);
    expect(first.body.result).toBe('operation_commited');
    const later = await buildUpsaleServer({ ...f.deps, now: () => new Date(Date.now() + 2 * 86400_000) });
    try {
      expect((await call(later, 'add/commit', q)).body).toEqual(first.body);
    } finally {
      await later.close();
    }
  });

  it.each([
    ['after an ensure', true],
    ['without an ensure', false],
  ])('the same commit sent 100 times in parallel (%s) writes one services row', async (_how, withEnsure) => {
    const vgId = A.inetTvB.vgId;
    const qs = txId('par');
    const q = { accountLogin: loginOf(vgId), newOfferId: withEnsure ? '5010' : '5011', qsTransactionId: qs };
    if (withEnsure) expect((await call(f.app, 'add/ensure', q)).body.result).toBe('operation_ensured');
    const answers = await Promise.all(Array.from({ length: 100 }, () => call(f.app, 'add/commit', q)));
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200]));
    expect(answers[0]!.body.result).toBe('operation_commited');
    for (const a of answers) expect(a.body).toEqual(answers[0]!.body);
    expect(await soldRows(qs)).toHaveLength(1);
  });

  it('two different basic sales for one account in parallel leave exactly one basic in force', async () => {
    // add-subscription of two basics at once (each a replace in disguise)
    const vgId = A.inetTvB.vgId; // basic 100 on tariff B, 1234.56 + credit 500
    const adds = await Promise.all(
      ['101', '102'].map((offer) =>
        call(f.app, 'add/commit', {
          accountLogin: loginOf(vgId),
          newOfferId: offer,
          qsTransactionId: txId('b2'),
        }),
      ),
    );
    expect(adds.map((a) => a.status)).toEqual([200, 200]);
    expect(await basicsInForce(f.knex, vgId)).toHaveLength(1);

    // replace of the same old basic by two others at once: one wins, the other finds 100 gone
    const other = A.svcDeleting.vgId; // basic 100, balance 60 → trials
    const replaces = await Promise.all(
      ['101', '102'].map((offer) =>
        call(f.app, 'replace/commit', {
          accountLogin: loginOf(other),
          oldOfferId: '100',
          newOfferId: offer,
          qsTransactionId: txId('r2'),
          trialDays: 1,
        }),
      ),
    );
    expect(replaces.map((r) => r.body.result).sort()).toEqual([
      'no_subscription_rules',
      'operation_commited',
    ]);
    const basics = await basicsInForce(f.knex, other);
    expect(basics).toHaveLength(1);
    const winner = replaces.findIndex((r) => r.body.result === 'operation_commited');
    expect(basics[0]!.uuid).toBe(['101', '102'][winner]);
  });

  it('timefrom is stored exactly as answered (whole seconds, UTC)', async () => {
    const qs = txId('sec');
    const r = await call(f.app, 'add/commit', {
      accountLogin: loginOf(A.svcStopped.vgId),
      newOfferId: '5011',
      qsTransactionId: qs,
      trialDays: 1,
    });
    expect(r.body.result).toBe('operation_commited');
    const [row] = await soldRows(qs);
    expect(sqlDateTime(new Date(row.timefrom))).toBe(
      sqlDateTime(new Date(r.body.billingStartTimestamp as string)),
    );
  });
});
