// What upsale reads beyond the account itself (read.ts loads that): the categories that put an
// offer (service_categories.uuid = the Smotreshka subscription id) on given tariffs, with the
// price in force. Kept apart from read.ts because only selling needs prices and sale flags.
import type { Knex } from 'knex';
import type { BillingClock } from './clock.js';
import { flag, int, money } from './values.js';

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

/** (year, month) of `at` as the billing counts it: on its own calendar (its wall clock). */
function monthOf(at: Date, clock: BillingClock): { year: number; month: number } {
  return clock.calendarMonth(at);
}

/**
 * Every category on `tarIds` whose uuid is `uuid` (after trimming, as the read model does), with
 * its price at `at`: the serv_category_prices row with the latest (timefrom_year, timefrom_month)
 * not after at's month. Sale flags are returned, not filtered, so the caller can say why not.
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
  if (found.length === 0) return [];

  const { year, month } = monthOf(at, clock);
  const priceRows: Record<string, unknown>[] = await db('serv_category_prices')
    .where((w) => {
      for (const r of found) w.orWhere({ tar_id: r.tar_id, serv_cat_idx: r.serv_cat_idx });
    })
    .andWhere((w) =>
      w
        .where('timefrom_year', '<', year)
        .orWhere((m) => m.where('timefrom_year', year).andWhere('timefrom_month', '<=', month)),
    )
    .select('tar_id', 'serv_cat_idx', 'timefrom_year', 'timefrom_month', 'above');
  const latest = new Map<string, { key: number; price: string }>();
  for (const p of priceRows) {
    const id = `${int(p.tar_id, 'serv_category_prices.tar_id')}/${int(p.serv_cat_idx, 'serv_category_prices.serv_cat_idx')}`;
    const key = int(p.timefrom_year, 'timefrom_year') * 12 + int(p.timefrom_month, 'timefrom_month');
    const seen = latest.get(id);
    if (!seen || key > seen.key) latest.set(id, { key, price: money(p.above, 'serv_category_prices.above') });
  }

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
      price: latest.get(`${tarId}/${servCatIdx}`)?.price ?? null,
    };
  });
}
