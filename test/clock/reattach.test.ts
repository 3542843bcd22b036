// Re-attach (layout 2) with the billing's clock at UTC+5, on both servers: the services left on
// the old tariff are closed at the moment of the move as the billing's wall clock shows it, their
// continuations start then, and an `activated` moment is copied as the same wall time (a zero
// date stays the zero date, never NULL). Read back as text, exactly as stored.
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingReader } from '../../src/billing/read.js';
import { reattachServices } from '../../src/billing/reattach.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { type BillingClockSetting, setBillingClock } from '../support/billing-clock.js';
import { createTestDatabase, DIALECTS } from '../support/db.js';

const A = SAMPLE.accounts;
const T = TARIFFS;
const DESIRED = { usernamePrefix: 'op_', emailTemplate: '{username}@op.example' };

describe.each(DIALECTS)('re-attach on %s with the billing clock at UTC+5', (dialect) => {
  let zoned: BillingClockSetting;
  let knex: Knex;

  beforeAll(async () => {
    const db = await createTestDatabase(dialect, 'rtclk');
    zoned = await setBillingClock(db, 'Asia/Yekaterinburg');
    knex = db.knex;
    await createLanbillingSchema(knex, dialect);
    await loadSample(knex, dialect, new Date(), zoned.clock);
  });
  afterAll(async () => zoned?.close());

  /** Every services row of the vgroup with its DATETIMEs as stored text. */
  async function rows(vgId: number) {
    const text = (c: string) => (dialect === 'pg' ? `CAST(${c} AS text)` : `CAST(${c} AS char)`);
    const r = await knex.raw(
      `SELECT service_id, tar_id, serv_cat_idx, ${text('timefrom')} AS timefrom, ${text('timeto')} AS timeto,
              ${text('activated')} AS activated FROM services WHERE vg_id = ? ORDER BY service_id`,
      [vgId],
    );
    return (dialect === 'pg' ? r.rows : r[0]) as Record<string, string | number>[];
  }

  it("closes and continues at the billing's wall clock, and copies activated as it was", async () => {
    const vgId = A.inetTvA.vgId;
    // a stray never activated: its zero date must survive the copy
    await zoned.writer('services').insert({
      vg_id: vgId,
      tar_id: T.internetTvA,
      serv_cat_idx: categoryIdx(T.internetTvA, '5011'),
      timefrom: zoned.now(-3600),
      state: 1,
    });
    const before = await rows(vgId);
    const subscriptions = async () => {
      const account = await billingReader(knex, zoned.clock).loadAccount(vgId, new Date());
      return desiredState(account!, new Date(), DESIRED).subscriptions;
    };
    const had = await subscriptions();
    expect(had).toEqual(['101', '5010', '5011']);

    await zoned.writer('vgroups').where({ vg_id: vgId }).update({ tar_id: T.internetTvB });
    const at = new Date();
    const result = await reattachServices(knex, vgId, at, zoned.clock);
    expect(result?.moved.map((m) => m.uuid).sort()).toEqual(['101', '5010', '5011']);

    const wall = zoned.clock.toWall(at);
    const after = await rows(vgId);
    for (const m of result!.moved) {
      const from = after.find((r) => r.service_id === m.fromServiceId)!;
      const to = after.find((r) => r.service_id === m.toServiceId)!;
      const original = before.find((r) => r.service_id === m.fromServiceId)!;
      expect(from.timeto).toBe(wall);
      expect(to).toMatchObject({ tar_id: T.internetTvB, timefrom: wall, timeto: '9999-12-31 23:59:59' });
      expect(to.activated, m.uuid).toBe(original.activated);
    }
    const neverActivated = after.find(
      (r) => r.service_id === result!.moved.find((m) => m.uuid === '5011')!.toServiceId,
    )!;
    expect(neverActivated.activated).toBe(dialect === 'pg' ? '-infinity' : '0000-00-00 00:00:00');
    // the subscriber keeps every subscription, without a gap
    expect(await subscriptions()).toEqual(had);
  });
});
