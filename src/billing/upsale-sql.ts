// What upsale reads beyond the account itself (read.ts loads that): the categories that put an
// offer (service_categories.uuid = the Smotreshka subscription id) on given tariffs, with the
// price in force; the charges this service's own rows will still cost the agreement; and the
// agreement of a locked vgroup. Kept apart from read.ts because only selling needs prices.
import type { Knex } from 'knex';
import { decimalToKopecks } from '../reconcile/money.js';
import type { BillingClock } from './clock.js';
import { flag, int, money, windowEnd, windowStart } from './values.js';

export interface OfferCategory {
  tarId: number;
  servCatIdx: number;
  uuid: string;
  /** 0 basic, 1 additional */
  serviceType: number;
  enabled: boolean;
  /** the subscriber may add it himself (personal cabinet, and so the platform's app) */
  available: boolean;
  archive: boolean;
  /** the price in force (serv_category_prices), six decimals; null when the category has none */
  price: string | null;
}

/**
 * A services row this service wrote that the billing has not activated (and so not charged) yet:
 * what the agreement's money is already promised to.
 */
export interface PendingCharge {
  serviceId: number;
  vgId: number;
  /** price in force × mul, in kopecks (0 when the category has no price) */
  kopecks: number;
}

/**
 * `services.external_data` of every row this service writes: `lifestream:qs=<id>` (upsale),
 * `lifestream:platform` (a switch-on seen on the platform). Re-attach copies it to the continued
 * row, so a sale keeps its mark across a tariff switch.
 */
export const OWN_ROW_MARK = 'lifestream:';

/** (year, month) of `at` as the billing counts it: on its own calendar (its wall clock). */
function monthOf(at: Date, clock: BillingClock): { year: number; month: number } {
  return clock.calendarMonth(at);
}

const keyOf = (tarId: number, servCatIdx: number) => `${tarId}/${servCatIdx}`;

/**
 * The price in force at `at` of each category (rows carrying tar_id and serv_cat_idx), by
 * keyOf: the serv_category_prices row with the latest (timefrom_year, timefrom_month) not after
 * at's month. Categories without one are absent.
 */
async function pricesAt(
  db: Knex,
  categories: Record<string, unknown>[],
  at: Date,
  clock: BillingClock,
): Promise<Map<string, string>> {
  if (categories.length === 0) return new Map();
  const { year, month } = monthOf(at, clock);
  const priceRows: Record<string, unknown>[] = await db('serv_category_prices')
    .where((w) => {
      for (const c of categories) w.orWhere({ tar_id: c.tar_id, serv_cat_idx: c.serv_cat_idx });
    })
    .andWhere((w) =>
      w
        .where('timefrom_year', '<', year)
        .orWhere((m) => m.where('timefrom_year', year).andWhere('timefrom_month', '<=', month)),
    )
    .select('tar_id', 'serv_cat_idx', 'timefrom_year', 'timefrom_month', 'above');
  const latest = new Map<string, { key: number; price: string }>();
  for (const p of priceRows) {
    const id = keyOf(
      int(p.tar_id, 'serv_category_prices.tar_id'),
      int(p.serv_cat_idx, 'serv_category_prices.serv_cat_idx'),
    );
    const key = int(p.timefrom_year, 'timefrom_year') * 12 + int(p.timefrom_month, 'timefrom_month');
    const seen = latest.get(id);
    if (!seen || key > seen.key) latest.set(id, { key, price: money(p.above, 'serv_category_prices.above') });
  }
  return new Map([...latest].map(([id, v]) => [id, v.price]));
}

/**
 * Every category on `tarIds` whose uuid is `uuid` (after trimming, as the read model does), with
 * its price at `at`. Sale flags are returned, not filtered, so the caller can say why not.
 */
export async function offerCategories(
  db: Knex,
  tarIds: number[],
  uuid: string,
  at: Date,
  clock: BillingClock,
): Promise<OfferCategory[]> {
  if (tarIds.length === 0) return [];
  const rows: Record<string, unknown>[] = await db('service_categories')
    .whereIn('tar_id', [...new Set(tarIds)])
    .whereRaw('TRIM(uuid) = ?', [uuid])
    .select('tar_id', 'serv_cat_idx', 'uuid', 'service_type', 'enabled', 'available', 'archive')
    .orderBy([{ column: 'tar_id' }, { column: 'serv_cat_idx' }]);
  // MySQL's collation compares case-insensitively: the platform's ids are exact
  const found = rows.filter((r) => String(r.uuid).trim() === uuid);
  const prices = await pricesAt(db, found, at, clock);
  return found.map((r) => {
    const tarId = int(r.tar_id, 'service_categories.tar_id');
    const servCatIdx = int(r.serv_cat_idx, 'service_categories.serv_cat_idx');
    return {
      tarId,
      servCatIdx,
      uuid,
      serviceType: int(r.service_type, 'service_categories.service_type'),
      enabled: flag(r.enabled),
      available: flag(r.available),
      archive: flag(r.archive),
      price: prices.get(keyOf(tarId, servCatIdx)) ?? null,
    };
  });
}

/**
 * The charges the agreement still owes for rows this service wrote, on any of its vgroups: rows
 * marked OWN_ROW_MARK, `state` 1 (on, not yet activated: the billing core charges when it
 * activates), `need_calc` 1 (to be charged), that are in force at `at` or start later (`timeto`
 * after both `at` and their own `timefrom`). Priced as the sale was: the price in force at `at`,
 * times `mul`.
 */
export async function pendingCharges(
  db: Knex,
  agrmId: number,
  at: Date,
  clock: BillingClock,
): Promise<PendingCharge[]> {
  const rows: Record<string, unknown>[] = await db('services as s')
    .join('vgroups as v', 'v.vg_id', 's.vg_id')
    .where({ 'v.agrm_id': agrmId, 's.state': 1, 's.need_calc': 1 })
    .andWhere('s.external_data', 'like', `${OWN_ROW_MARK}%`)
    .select('s.service_id', 's.vg_id', 's.tar_id', 's.serv_cat_idx', 's.mul', 's.timefrom', 's.timeto')
    .orderBy('s.service_id');
  const live = rows.filter((r) => {
    const to = windowEnd(r.timeto, 'services.timeto', clock);
    const from = windowStart(r.timefrom, 'services.timefrom', clock);
    return to === null || (to.getTime() > at.getTime() && to.getTime() > from.getTime());
  });
  const prices = await pricesAt(db, live, at, clock);
  return live.map((r) => {
    const price = prices.get(
      keyOf(int(r.tar_id, 'services.tar_id'), int(r.serv_cat_idx, 'services.serv_cat_idx')),
    );
    const mulHundredths = decimalToKopecks(money(r.mul, 'services.mul'));
    return {
      serviceId: int(r.service_id, 'services.service_id'),
      vgId: int(r.vg_id, 'services.vg_id'),
      kopecks: price === undefined ? 0 : Math.round((decimalToKopecks(price) * mulHundredths) / 100),
    };
  });
}

/**
 * The agreement of a vgroup whose row the caller's transaction has locked (withVgroupLocked). A
 * locking read again, so that on InnoDB it reads the latest row and takes no snapshot yet.
 */
export async function agreementOfLocked(trx: Knex.Transaction, vgId: number): Promise<number | null> {
  const row = await trx('vgroups').where({ vg_id: vgId }).forUpdate().first('agrm_id');
  return row?.agrm_id == null ? null : int(row.agrm_id, 'vgroups.agrm_id');
}
