// Catalogue-level reads of the billing used by diagnostics: which Smotreshka subscription ids the
// billing's tariffs refer to, and whether the LANBilling tables the service relies on are there.
import type { Knex } from 'knex';

export const REQUIRED_TABLES = [
  'accounts',
  'agreements',
  'vgroups',
  'tarifs',
  'service_categories',
  'serv_category_prices',
  'services',
  'multitarifs',
] as const;

/** Every distinct non-empty service_categories.uuid with how many tariffs carry it. */
export async function tvCategoryUuids(knex: Knex): Promise<{ uuid: string; tariffs: number; basic: boolean }[]> {
  const rows = await knex('service_categories')
    .select('uuid')
    .count({ tariffs: '*' })
    .min({ service_type: 'service_type' })
    .whereNotNull('uuid')
    .andWhere('uuid', '<>', '')
    .andWhere('archive', 0)
    .groupBy('uuid')
    .orderBy('uuid');
  return (rows as Record<string, unknown>[]).map((r) => ({ uuid: String(r.uuid).trim(), tariffs: Number(r.tariffs), basic: Number(r.service_type) === 0 }));
}

/** Which of the required LANBilling tables are missing from the connected database. */
export async function missingTables(knex: Knex): Promise<string[]> {
  const missing: string[] = [];
  for (const t of REQUIRED_TABLES) if (!(await knex.schema.hasTable(t))) missing.push(t);
  return missing;
}

/** The server's product and version, e.g. { product: 'MariaDB', version: '10.11.19' }. */
export async function serverVersion(knex: Knex, dialect: 'pg' | 'mysql'): Promise<{ product: string; version: string }> {
  if (dialect === 'pg') {
    const r = await knex.raw('show server_version');
    return { product: 'PostgreSQL', version: String(r.rows[0].server_version).split(' ')[0]! };
  }
  const [rows] = await knex.raw('select version() as v');
  const v = String(rows[0].v);
  return { product: /mariadb/i.test(v) ? 'MariaDB' : 'MySQL', version: v.split('-')[0]! };
}
