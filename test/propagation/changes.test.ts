// Billing changes reach the platform through the whole pipeline (triggers → change log → queue →
// reconcile → simulator), on PostgreSQL and MariaDB, and only the calls the change calls for;
// with the billing's clock at UTC and at UTC+5 (Asia/Yekaterinburg), where every DATETIME the
// billing writes is its local wall clock and its NOW() is five hours ahead of UTC's.
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCode } from '../../src/billing/types.js';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { SAMPLE } from '../fixture/sample.js';
import { serviceRow } from '../support/billing-clock.js';
import { DIALECTS } from '../support/db.js';
import { type Pipeline, startPipeline, USERNAME_PREFIX } from '../support/pipeline.js';
import type { ChangeCall } from '../support/platform-calls.js';

const A = SAMPLE.accounts;
const T = TARIFFS;
const user = (login: string) => `${USERNAME_PREFIX}${login}`;
const texts = (calls: ChangeCall[]) => calls.map((c) => c.text).sort();
const CASES = DIALECTS.flatMap((dialect) =>
  ['UTC', 'Asia/Yekaterinburg'].map((zone) => [dialect, zone] as const),
);

describe.each(CASES)('billing changes reach the platform on %s, billing clock %s', (dialect, zone) => {
  let p: Pipeline;
  /** the billing's own sessions */
  let knex: Knex;
  /** a DATETIME `offsetMs` from now on the billing's wall clock */
  const at = (offsetMs: number) => p.billing.clock.toWall(new Date(Date.now() + offsetMs));

  beforeAll(async () => {
    p = await startPipeline(dialect, 'chg', zone === 'UTC' ? {} : { billingZone: zone });
    knex = p.billing.writer;
  });
  afterAll(async () => p?.stop());

  /** Waits until every change was handled and no reconcile runs, then returns the calls for `login` since `mark`. */
  async function settledCalls(mark: number, login: string): Promise<string[]> {
    await p.waitFor('the pipeline to settle', async () => {
      const [log, queued] = await Promise.all([p.service.changelog.count(), p.service.pending.count()]);
      return log === 0 && queued === 0 && p.service.queue.stats().inFlight === 0;
    });
    return texts(p.callsSince(mark).filter((c) => c.username === user(login)));
  }

  async function callsFor(mark: number, login: string, n: number): Promise<string[]> {
    await p.waitFor(
      `${n} calls for ${login}`,
      () => p.callsSince(mark).filter((c) => c.username === user(login)).length >= n,
    );
    return settledCalls(mark, login);
  }

  /** The reconcile ran (it reads the platform account) even when it had nothing to change. */
  async function reconciled(mark: number, login: string): Promise<void> {
    const id = p.sim.store.byName(user(login))?.id;
    await p.waitFor(`a reconcile of ${login}`, () =>
      p.sim.recorder.since(mark, 100_000).calls.some((c) => c.method === 'GET' && c.path.endsWith(`/${id}`)),
    );
  }

  it('assigning and stopping an additional service', async () => {
    let m = p.mark();
    await knex('services').insert({
      vg_id: A.svcBasic.vgId,
      tar_id: T.tvServices,
      serv_cat_idx: categoryIdx(T.tvServices, '5012'),
      timefrom: at(-60_000),
      state: 1,
    });
    expect(await callsFor(m, A.svcBasic.login, 1)).toEqual([`enable ${user(A.svcBasic.login)} 5012`]);

    m = p.mark();
    await knex('services')
      .where({ vg_id: A.svcBasic.vgId, serv_cat_idx: categoryIdx(T.tvServices, '5012') })
      .update({ timeto: at(-1000) });
    expect(await callsFor(m, A.svcBasic.login, 1)).toEqual([`disable ${user(A.svcBasic.login)} 5012`]);
  });

  it('switching the basic subscription in one transaction', async () => {
    const m = p.mark();
    await knex.transaction(async (trx) => {
      await trx('services')
        .where({ vg_id: A.svcBasic.vgId, serv_cat_idx: categoryIdx(T.tvServices, '100') })
        .update({ timeto: at(-1000) });
      await trx('services').insert({
        vg_id: A.svcBasic.vgId,
        tar_id: T.tvServices,
        serv_cat_idx: categoryIdx(T.tvServices, '102'),
        timefrom: at(-1000),
        state: 1,
      });
    });
    const u = user(A.svcBasic.login);
    expect(await callsFor(m, A.svcBasic.login, 2)).toEqual([`disable ${u} 100`, `enable ${u} 102`]);
    expect(p.subscriptionsOf(A.svcBasic.login)).toEqual(['102', '5010', '5011']);
  });

  it('blocking and unblocking', async () => {
    const u = user(A.svcBasic.login);
    let m = p.mark();
    await knex('vgroups')
      .where({ vg_id: A.svcBasic.vgId })
      .update({ blocked: BlockCode.admin, blk_req: BlockCode.admin });
    expect(await callsFor(m, A.svcBasic.login, 4)).toEqual([
      `disable ${u} 102`,
      `disable ${u} 5010`,
      `disable ${u} 5011`,
      `state ${u} suspended_manually 35000`,
    ]);
    m = p.mark();
    await knex('vgroups')
      .where({ vg_id: A.svcBasic.vgId })
      .update({ blocked: BlockCode.active, blk_req: BlockCode.active });
    expect(await callsFor(m, A.svcBasic.login, 4)).toEqual([
      `enable ${u} 102`,
      `enable ${u} 5010`,
      `enable ${u} 5011`,
      `state ${u} active 35000`,
    ]);
  });

  it('switching off and archiving', async () => {
    let m = p.mark();
    await knex('vgroups').where({ vg_id: A.svcFuture.vgId }).update({ blocked: BlockCode.switchedOff });
    expect(await callsFor(m, A.svcFuture.login, 2)).toEqual([
      `disable ${user(A.svcFuture.login)} 100`,
      `state ${user(A.svcFuture.login)} other 100000`,
    ]);
    m = p.mark();
    await knex('vgroups').where({ vg_id: A.svcNoEmail.vgId }).update({ archive: 1 });
    const u = user(A.svcNoEmail.login);
    expect(await callsFor(m, A.svcNoEmail.login, 2)).toEqual([`disable ${u} 100`, `state ${u} other 25000`]);
  });

  it('a balance change is pushed as account state to every account of the agreement', async () => {
    const m = p.mark();
    await knex('agreements')
      .where({ agrm_id: SAMPLE.agreements.ivanovMain.agrmId })
      .update({ balance: '123.45' });
    expect(await callsFor(m, A.svcBasic.login, 1)).toEqual([`state ${user(A.svcBasic.login)} active 12345`]);
    expect(await settledCalls(m, A.inetTvA.login)).toEqual([`state ${user(A.inetTvA.login)} active 12345`]);
  });

  it('a service expires and another starts on time, with no row change', async () => {
    const u = user(A.svcStopped.login);
    const boundary = at(3_000);
    const boundaryMs = p.billing.clock.fromWall(boundary, 'timeto')!.getTime();
    let m = p.mark();
    await knex('services').insert([
      {
        vg_id: A.svcStopped.vgId,
        tar_id: T.tvServices,
        serv_cat_idx: categoryIdx(T.tvServices, '5011'),
        timefrom: at(-60_000),
        timeto: boundary,
        state: 3,
      },
      {
        vg_id: A.svcStopped.vgId,
        tar_id: T.tvServices,
        serv_cat_idx: categoryIdx(T.tvServices, '5012'),
        timefrom: boundary,
        state: 1,
      },
    ]);
    expect(await callsFor(m, A.svcStopped.login, 1)).toEqual([`enable ${u} 5011`]);
    m = p.mark();
    await p.waitFor('the timer', () => p.callsSince(m).filter((c) => c.username === u).length >= 2, 8_000);
    const timed = p.callsSince(m).filter((c) => c.username === u);
    expect(texts(timed)).toEqual([`disable ${u} 5011`, `enable ${u} 5012`]);
    for (const c of timed) {
      expect(c.at).toBeGreaterThanOrEqual(boundaryMs);
      expect(c.at - boundaryMs).toBeLessThan(1_000);
    }
  });

  it('services the billing assigns with its own NOW(): now, expiring in a few seconds, starting in a few seconds', async () => {
    const u = user(A.svcDeleting.login);
    const service = (offer: '5010' | '5012' | '5013', from: Knex.Raw, to?: Knex.Raw) =>
      serviceRow(A.svcDeleting.vgId, T.tvServices, categoryIdx(T.tvServices, offer), from, to);
    let m = p.mark();
    await knex('services').insert(service('5010', p.billing.now()));
    // at once: not read as starting hours from now
    expect(await callsFor(m, A.svcDeleting.login, 1)).toEqual([`enable ${u} 5010`]);

    m = p.mark();
    await knex('services').insert([
      service('5012', p.billing.now(-60), p.billing.now(3)),
      service('5013', p.billing.now(3)),
    ]);
    expect(await callsFor(m, A.svcDeleting.login, 1)).toEqual([`enable ${u} 5012`]);
    // the moment the billing wrote, as an instant: the service's reading of it
    const [row] = await p.db
      .knex('services')
      .where({ vg_id: A.svcDeleting.vgId, serv_cat_idx: categoryIdx(T.tvServices, '5013') })
      .select('timefrom');
    const boundaryMs = p.billing.clock.fromWall(row.timefrom, 'timefrom')!.getTime();
    expect(Math.abs(boundaryMs - (Date.now() + 3_000))).toBeLessThan(5_000);
    m = p.mark();
    await p.waitFor('the timers', () => p.callsSince(m).filter((c) => c.username === u).length >= 2, 10_000);
    const timed = p.callsSince(m).filter((c) => c.username === u);
    expect(texts(timed)).toEqual([`disable ${u} 5012`, `enable ${u} 5013`]);
    // not before the billing's moment (and, by the wait above, not hours after it)
    for (const c of timed) expect(c.at).toBeGreaterThanOrEqual(boundaryMs);
  });

  it('layout 3: changing the main tariff leaves the multi-tariff TV services alone', async () => {
    const m = p.mark();
    await knex('vgroups').where({ vg_id: A.inetMulti.vgId }).update({ tar_id: T.internetTvA });
    await reconciled(m, A.inetMulti.login);
    expect(await settledCalls(m, A.inetMulti.login)).toEqual([]);
    expect(p.subscriptionsOf(A.inetMulti.login)).toEqual(['100', '5011']);
  });

  it('layout 2: re-attaching the same uuids under a new tariff in one transaction causes no disable/enable', async () => {
    const before = p.subscriptionsOf(A.inetTvA.login);
    const m = p.mark();
    await knex.transaction(async (trx) => {
      await trx('services')
        .where({ vg_id: A.inetTvA.vgId, tar_id: T.internetTvA })
        .update({ timeto: at(-1000) });
      await trx('services').insert(
        (['101', '5010', 'staticIp'] as const).map((offer) => ({
          vg_id: A.inetTvA.vgId,
          tar_id: T.internetTvB,
          serv_cat_idx: categoryIdx(T.internetTvB, offer),
          timefrom: at(-1000),
          state: 3,
        })),
      );
      await trx('vgroups').where({ vg_id: A.inetTvA.vgId }).update({ tar_id: T.internetTvB });
    });
    await reconciled(m, A.inetTvA.login);
    expect(await settledCalls(m, A.inetTvA.login)).toEqual([]);
    expect(p.subscriptionsOf(A.inetTvA.login)).toEqual(before);
  });

  it('a transaction that commits after a later one is not skipped (the late-commit hazard)', async () => {
    const m = p.mark();
    const early = await knex.transaction();
    try {
      // takes the lower change-log id, commits last
      await early('services').insert({
        vg_id: A.inetTvB.vgId,
        tar_id: T.internetTvB,
        serv_cat_idx: categoryIdx(T.internetTvB, '5012'),
        timefrom: at(-60_000),
        state: 1,
      });
      await knex('services').insert({
        vg_id: A.svcExpired.vgId,
        tar_id: T.tvServices,
        serv_cat_idx: categoryIdx(T.tvServices, '5012'),
        timefrom: at(-60_000),
        state: 1,
      });
      expect(await callsFor(m, A.svcExpired.login, 1)).toEqual([`enable ${user(A.svcExpired.login)} 5012`]);
      await early.commit();
    } catch (err) {
      await early.rollback();
      throw err;
    }
    expect(await callsFor(m, A.inetTvB.login, 1)).toEqual([`enable ${user(A.inetTvB.login)} 5012`]);
  });
});
