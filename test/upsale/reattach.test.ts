// reattachServices on both servers, on the sample's layout 2 and 3 accounts: services moved to the
// new tariff by uuid at one instant, the subscriptions in force unchanged, what the new tariff
// lacks stopped, multi-tariff services untouched, and a second (or concurrent) run doing nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UTC_CLOCK } from '../../src/billing/clock.js';
import { billingReader } from '../../src/billing/read.js';
import { reattachServices } from '../../src/billing/reattach.js';
import { needsReattach } from '../../src/billing/reattach-plan.js';
import { DIALECTS } from '../support/db.js';
import {
  A,
  servicesFingerprint,
  servicesRows,
  subscriptionsOf,
  type UpsaleFixture,
  upsaleFixture,
} from './support.js';

const TARIFF_A = 20;
const TARIFF_B = 21;
const OPEN = '9999-12-31T23:59:59.000Z';
const iso = (v: unknown) => new Date(v as string | Date).toISOString();

describe.each(DIALECTS)('re-attach on a tariff switch on %s', (dialect) => {
  let f: UpsaleFixture;
  beforeAll(async () => {
    f = await upsaleFixture(dialect, 'upsreat');
  });
  afterAll(async () => f?.close());

  const setTariff = (vgId: number, tarId: number) =>
    f.knex('vgroups').where({ vg_id: vgId }).update({ tar_id: tarId });
  const needs = async (vgId: number) =>
    needsReattach((await billingReader(f.knex, UTC_CLOCK).loadAccount(vgId, new Date()))!, new Date());

  it('moves the TV services from A to B by uuid at one instant; the platform set is unchanged', async () => {
    const vgId = A.inetTvA.vgId; // 101 + 5010 + a static IP on A
    const before = await servicesRows(f.knex, vgId);
    await setTariff(vgId, TARIFF_B);
    const at = new Date(Date.now() - 1500);
    const T = new Date(Math.floor(at.getTime() / 1000) * 1000);
    const subsBefore = await subscriptionsOf(f.knex, vgId);
    expect(subsBefore).toEqual(['101', '5010']);

    expect(await needs(vgId)).toBe(true);
    const result = await reattachServices(f.knex, vgId, at, UTC_CLOCK);
    expect(result).toMatchObject({ vgId, tarId: TARIFF_B, at: T, closed: [] });
    expect(await needs(vgId)).toBe(false);
    expect(result!.moved.map((m) => m.uuid).sort()).toEqual(['101', '5010']);

    const after = await servicesRows(f.knex, vgId);
    for (const m of result!.moved) {
      const old = after.find((r) => r.service_id === m.fromServiceId)!;
      const cont = after.find((r) => r.service_id === m.toServiceId)!;
      const was = before.find((r) => r.service_id === m.fromServiceId)!;
      expect(iso(old.timeto)).toBe(T.toISOString());
      expect({
        tar: cont.tar_id,
        from: iso(cont.timefrom),
        to: iso(cont.timeto),
        state: cont.state,
        need: cont.need_calc,
      }).toEqual({
        tar: TARIFF_B,
        from: T.toISOString(),
        to: OPEN,
        state: was.state,
        need: was.need_calc,
      });
      expect(cont.serv_cat_idx).toBe(m.uuid === '101' ? 12 : 21);
    }
    // the static IP (not TV) stays where it is, open
    const staticIp = after.find((r) => r.tar_id === TARIFF_A && r.serv_cat_idx === 8)!;
    expect(iso(staticIp.timeto)).toBe(OPEN);
    // in force before, at and after T: the same subscriptions
    for (const t of [new Date(T.getTime() - 1000), T, new Date()])
      expect(await subscriptionsOf(f.knex, vgId, t)).toEqual(subsBefore);

    const print = await servicesFingerprint(f.knex);
    expect(await reattachServices(f.knex, vgId, new Date(), UTC_CLOCK)).toMatchObject({
      moved: [],
      closed: [],
    });
    expect(await servicesFingerprint(f.knex)).toBe(print);
  });

  it('stops what the new tariff does not offer', async () => {
    const vgId = A.inetTvA.vgId; // now on B with 101 and 5010; back to A, where 5010 is switched off
    await f.knex('service_categories').where({ tar_id: TARIFF_A, serv_cat_idx: 4 }).update({ enabled: 0 });
    try {
      await setTariff(vgId, TARIFF_A);
      const result = await reattachServices(f.knex, vgId, new Date(), UTC_CLOCK);
      expect(result!.moved.map((m) => m.uuid)).toEqual(['101']);
      expect(result!.closed).toEqual([expect.objectContaining({ uuid: '5010', reason: 'not_offered' })]);
      expect(await subscriptionsOf(f.knex, vgId, new Date(Date.now() + 1000))).toEqual(['101']);
    } finally {
      await f.knex('service_categories').where({ tar_id: TARIFF_A, serv_cat_idx: 4 }).update({ enabled: 1 });
    }
  });

  it('leaves multi-tariff services (layout 3) alone when the main tariff changes', async () => {
    const vgId = A.inetMulti.vgId;
    await setTariff(vgId, TARIFF_A);
    expect(await needs(vgId)).toBe(false);
    const print = await servicesFingerprint(f.knex);
    expect(await reattachServices(f.knex, vgId, new Date(), UTC_CLOCK)).toMatchObject({
      moved: [],
      closed: [],
    });
    expect(await servicesFingerprint(f.knex)).toBe(print);
    expect(await subscriptionsOf(f.knex, vgId)).toEqual(['100', '5011']);
  });

  it('does nothing for an account already re-attached by hand, or on its own tariff, and null for no account', async () => {
    const print = await servicesFingerprint(f.knex);
    expect(await reattachServices(f.knex, A.inetTvB.vgId, new Date(), UTC_CLOCK)).toMatchObject({
      moved: [],
      closed: [],
    });
    expect(await reattachServices(f.knex, A.svcBasic.vgId, new Date(), UTC_CLOCK)).toMatchObject({
      moved: [],
      closed: [],
    });
    expect(await reattachServices(f.knex, 987654, new Date(), UTC_CLOCK)).toBeNull();
    expect(await servicesFingerprint(f.knex)).toBe(print);
  });

  it('two concurrent runs for one account move each service once', async () => {
    const vgId = A.inetTvA.vgId; // on A with 101 (5010 was stopped above)
    await setTariff(vgId, TARIFF_B);
    const at = new Date();
    const results = await Promise.all([
      reattachServices(f.knex, vgId, at, UTC_CLOCK),
      reattachServices(f.knex, vgId, at, UTC_CLOCK),
    ]);
    expect(results.flatMap((r) => r!.moved.map((m) => m.uuid))).toEqual(['101']);
    const open = (await servicesRows(f.knex, vgId)).filter(
      (r) => r.tar_id === TARIFF_B && iso(r.timeto) === OPEN,
    );
    expect(open.map((r) => r.serv_cat_idx)).toEqual([12]);
  });
});
