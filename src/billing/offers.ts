// Which Smotreshka subscriptions a set of tariffs offers: every service_categories row with a
// non-empty uuid on them, with its sale flags. The platform scan asks it to tell a subscription
// the billing can take over (the account's tariffs sell it to the subscriber) from one it can't.
// Upsale has its own read with prices (upsale-sql.ts); the scan needs no price: the subscriber
// already has the subscription, and the billing core charges it by its own rules.
import type { Knex } from 'knex';
import { flag, int } from './values.js';

export interface TariffCategory {
  tarId: number;
  servCatIdx: number;
  /** service_categories.uuid, trimmed: the Smotreshka subscription id */
  uuid: string;
  /** 0 basic, 1 additional */
  serviceType: number;
  enabled: boolean;
  available: boolean;
  archive: boolean;
}

const CHUNK = 1000;

/** The TV categories of each tariff (tariffs without any are absent). */
export async function tvCategoriesOf(
  db: Knex,
  tarIds: readonly number[],
): Promise<Map<number, TariffCategory[]>> {
  const out = new Map<number, TariffCategory[]>();
  const ids = [...new Set(tarIds)].sort((a, b) => a - b);
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows: Record<string, unknown>[] = await db('service_categories')
      .whereIn('tar_id', ids.slice(i, i + CHUNK))
      .andWhere('uuid', '<>', '')
      .select('tar_id', 'serv_cat_idx', 'uuid', 'service_type', 'enabled', 'available', 'archive')
      .orderBy([{ column: 'tar_id' }, { column: 'serv_cat_idx' }]);
    for (const r of rows) {
      // whitespace-only uuids pass '<>' on PostgreSQL (MySQL pads): not a TV service either way
      const uuid = String(r.uuid).trim();
      if (uuid === '') continue;
      const c: TariffCategory = {
        tarId: int(r.tar_id, 'service_categories.tar_id'),
        servCatIdx: int(r.serv_cat_idx, 'service_categories.serv_cat_idx'),
        uuid,
        serviceType: int(r.service_type, 'service_categories.service_type'),
        enabled: flag(r.enabled),
        available: flag(r.available),
        archive: flag(r.archive),
      };
      const list = out.get(c.tarId);
      if (list) list.push(c);
      else out.set(c.tarId, [c]);
    }
  }
  return out;
}

/**
 * Remembers tariffs' categories for the length of one scan or sync: thousands of accounts share a
 * handful of tariffs, so each tariff is read once.
 */
export class TariffCategoryCache {
  private readonly known = new Map<number, TariffCategory[]>();

  constructor(private readonly db: Knex) {}

  async of(tarIds: readonly number[]): Promise<Map<number, TariffCategory[]>> {
    const missing = [...new Set(tarIds)].filter((id) => !this.known.has(id));
    if (missing.length > 0) {
      const read = await tvCategoriesOf(this.db, missing);
      for (const id of missing) this.known.set(id, read.get(id) ?? []);
    }
    return new Map(tarIds.map((id) => [id, this.known.get(id) ?? []]));
  }
}
