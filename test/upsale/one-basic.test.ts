// One basic, one receipt, on both servers through the HTTP routes: of concurrent sales that would
// each make a different basic active on one account (each ensured before any of them committed),
// by add-subscription, by replace-subscription or a mix, exactly one answers operation_commited
// and the others a refusal; the billing ends with exactly that one basic in force, one services
// row written, and the old basic closed at its start. A sale ensured after a switch committed is
// a new switch and goes through; a basic planned to start later blocks a basic sold now.
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlDateTime } from '../../src/billing/sql-time.js';
import { DIALECTS } from '../support/db.js';
import {
  A,
  type Answer,
  basicsInForce,
  call,
  ensureAllThenCommitAll,
  journalRow,
  loginOf,
  sell,
  soldRows,
  subscriptionsOf,
  txId,
  type UpsaleFixture,
  upsaleFixture,
} from './support.js';

/** 20 more basic subscriptions on the layout 1 tariff (10), 100.00 each, so that 20 sales each sell another. */
const EXTRA_BASICS = Array.from({ length: 20 }, (_, i) => `B${String(i + 1).padStart(2, '0')}`);

async function addBasics(knex: Knex): Promise<void> {
  await knex('service_categories').insert(
    EXTRA_BASICS.map((uuid, i) => ({
      tar_id: 10,
      serv_cat_idx: 101 + i,
      uuid,
      descr: `Базовый ${uuid}`,
      rent_period: 1,
      service_type: 0,
      enabled: 1,
      available: 1,
    })),
  );
  await knex('serv_category_prices').insert(
    EXTRA_BASICS.map((_, i) => ({
      tar_id: 10,
      serv_cat_idx: 101 + i,
      timefrom_year: 2000,
      timefrom_month: 1,
      above: '100',
    })),
  );
}

type Kind = 'add' | 'replace';

describe.each(DIALECTS)('one basic, one receipt on %s', (dialect) => {
  let f: UpsaleFixture;
  beforeAll(async () => {
    f = await upsaleFixture(dialect, 'upsbasic');
    await addBasics(f.knex);
  });
  afterAll(async () => f?.close());

  // svcNoEmail: layout 1, basic 100 in force, 250.00 on the balance
  const vgId = A.svcNoEmail.vgId;

  /** Back to the sample: basic 100 open, nothing sold. Between scenarios only. */
  async function reset(): Promise<void> {
    await f
      .knex('services')
      .where({ vg_id: vgId })
      .andWhere('external_data', 'like', 'lifestream:%')
      .delete();
    await f.knex('services').where({ vg_id: vgId }).update({ timeto: '9999-12-31 23:59:59' });
    expect((await basicsInForce(f.knex, vgId)).map((s) => s.uuid)).toEqual(['100']);
  }

  const query = (kind: Kind, offer: string) => ({
    accountLogin: loginOf(vgId),
    newOfferId: offer,
    ...(kind === 'replace' ? { oldOfferId: '100' } : {}),
    qsTransactionId: txId(`${kind}-${offer}`),
  });

  /** Ensures every sale (all at once), then commits every sale (all at once). */
  async function race(sales: { kind: Kind; offer: string }[]) {
    const queries = sales.map((s) => ({ ...s, q: query(s.kind, s.offer) }));
    const { ensures, commits } = await ensureAllThenCommitAll(f.app, queries);
    for (const e of ensures) expect(e.body.result).toBe('operation_ensured');
    return queries.map((s, i) => ({ ...s, commit: commits[i]! }));
  }

  /** The pair: one commit answer, and the billing holding exactly what it says. */
  async function expectOneReceipt(
    results: { offer: string; q: { qsTransactionId: string }; commit: Answer }[],
  ) {
    for (const r of results) expect(r.commit.status).toBe(200);
    const winners = results.filter((r) => r.commit.body.result === 'operation_commited');
    expect(winners).toHaveLength(1);
    for (const r of results) {
      if (r !== winners[0]) expect(r.commit.body, r.offer).toEqual({ result: 'no_subscription_rules' });
    }
    const winner = winners[0]!;
    expect((await basicsInForce(f.knex, vgId)).map((s) => s.uuid)).toEqual([winner.offer]);
    expect(await subscriptionsOf(f.knex, vgId)).toEqual([winner.offer]);
    // one row written, by the winner, starting when it answered; the losers wrote nothing
    const sold = await f
      .knex('services')
      .where({ vg_id: vgId })
      .andWhere('external_data', 'like', 'lifestream:%');
    expect(sold.map((r) => r.external_data)).toEqual([`lifestream:qs=${winner.q.qsTransactionId}`]);
    const start = winner.commit.body.billingStartTimestamp as string;
    expect(sqlDateTime(new Date(sold[0]!.timefrom))).toBe(sqlDateTime(new Date(start)));
    const old = await f.knex('services').where({ vg_id: vgId, tar_id: 10, serv_cat_idx: 1 }).first();
    expect(sqlDateTime(new Date(old.timeto))).toBe(sqlDateTime(new Date(start)));
    for (const r of results) {
      expect(await journalRow(f.knex, r.q.qsTransactionId)).toMatchObject({
        state: r === winner ? 'committed' : 'ensured',
      });
    }
  }

  for (const n of [2, 5, 20]) {
    for (const kind of ['add', 'replace'] as const) {
      it(`${n} concurrent basic sales by ${kind}: exactly one basic, one commit answer`, async () => {
        await reset();
        await expectOneReceipt(await race(EXTRA_BASICS.slice(0, n).map((offer) => ({ kind, offer }))));
      });
    }
  }

  it('20 concurrent basic sales, add and replace mixed', async () => {
    await reset();
    const sales = EXTRA_BASICS.map((offer, i) => ({ kind: (i % 2 ? 'add' : 'replace') as Kind, offer }));
    await expectOneReceipt(await race(sales));
  });

  it("the issue's case: 100 in force, 101 and 102 added in parallel on a layout 2 account", async () => {
    const morozov = A.inetTvB.vgId; // tariff B, basic 100; 1234.56 + 500 credit
    const q = (offer: string) => ({
      accountLogin: loginOf(morozov),
      newOfferId: offer,
      qsTransactionId: txId('b2'),
    });
    const [q101, q102] = [q('101'), q('102')];
    const { commits } = await ensureAllThenCommitAll(f.app, [
      { kind: 'add', q: q101 },
      { kind: 'add', q: q102 },
    ]);
    const results = commits.map((c) => c.body.result).sort();
    expect(results).toEqual(['no_subscription_rules', 'operation_commited']);
    const winner = commits[0]!.body.result === 'operation_commited' ? '101' : '102';
    expect((await basicsInForce(f.knex, morozov)).map((s) => s.uuid)).toEqual([winner]);
    expect(await soldRows(f.knex, (winner === '101' ? q102 : q101).qsTransactionId)).toEqual([]);
  });

  it('a sale ensured after a switch committed is a switch of its own: it commits', async () => {
    await reset();
    const first = await sell(f.app, 'add', query('add', 'B01'));
    expect(first.commit?.body.result).toBe('operation_commited');
    const second = await sell(f.app, 'replace', { ...query('replace', 'B02'), oldOfferId: 'B01' });
    expect(second.commit?.body.result).toBe('operation_commited');
    const third = await sell(f.app, 'add', query('add', 'B03'));
    expect(third.commit?.body.result).toBe('operation_commited');
    expect((await basicsInForce(f.knex, vgId)).map((s) => s.uuid)).toEqual(['B03']);
  });

  it('an ensure repeated after another basic committed is refused too: the sale is stale for good', async () => {
    await reset();
    const stale = query('add', 'B04');
    expect((await call(f.app, 'add/ensure', stale)).body.result).toBe('operation_ensured');
    expect((await sell(f.app, 'add', query('add', 'B05'))).commit?.body.result).toBe('operation_commited');
    expect((await call(f.app, 'add/ensure', stale)).body).toEqual({ result: 'no_subscription_rules' });
    expect((await basicsInForce(f.knex, vgId)).map((s) => s.uuid)).toEqual(['B05']);
  });

  it('a switch away and back since ensure is a change too: the stale sale is refused', async () => {
    await reset();
    const stale = query('add', 'B10');
    const ensured = await call(f.app, 'add/ensure', stale);
    expect(ensured.body.result).toBe('operation_ensured');
    expect((await sell(f.app, 'replace', { ...query('replace', 'B11') })).commit?.body.result).toBe(
      'operation_commited',
    );
    expect(
      (await sell(f.app, 'replace', { ...query('replace', '100'), oldOfferId: 'B11' })).commit?.body.result,
    ).toBe('operation_commited');
    // 100 is the basic again, but another row than the one the stale ensure saw
    const late = await call(f.app, 'add/commit', {
      ...stale,
      billingTransactionId: ensured.body.billingTransactionId as string,
    });
    expect(late.body).toEqual({ result: 'no_subscription_rules' });
    expect(await soldRows(f.knex, stale.qsTransactionId)).toEqual([]);
    expect((await basicsInForce(f.knex, vgId)).map((s) => s.uuid)).toEqual(['100']);
  });

  it('an additional sold alongside a basic switch is not a basic sale: both commit', async () => {
    await reset();
    const results = await race([
      { kind: 'replace', offer: 'B06' },
      { kind: 'add', offer: '5011' }, // 99.00
    ]);
    expect(results.map((r) => r.commit.body.result)).toEqual(['operation_commited', 'operation_commited']);
    expect(await subscriptionsOf(f.knex, vgId)).toEqual(['5011', 'B06']);
  });

  it('a basic planned to start later (a switch at the end of the period) blocks a basic sold now', async () => {
    await reset();
    const inTwoDays = new Date(Date.now() + 2 * 86400_000).toISOString();
    const planned = await sell(
      f.app,
      'replace',
      { ...query('replace', 'B07'), oldOfferId: '100' },
      { serviceStartTimestamp: inTwoDays },
    );
    expect(planned.commit?.body.result).toBe('operation_commited');
    // until then 100 stays in force: the platform still shows it
    expect(await subscriptionsOf(f.knex, vgId)).toEqual(['100']);
    const now = await sell(f.app, 'add', query('add', 'B08'));
    expect(now.ensure.body).toEqual({ result: 'no_subscription_rules' });
    const replaceNow = await sell(f.app, 'replace', { ...query('replace', 'B09'), oldOfferId: '100' });
    expect(replaceNow.ensure.body).toEqual({ result: 'no_subscription_rules' });
    const later = new Date(Date.now() + 3 * 86400_000);
    expect((await basicsInForce(f.knex, vgId, later)).map((s) => s.uuid)).toEqual(['B07']);
  });
});
