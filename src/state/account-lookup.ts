// Lookups in the service's account mapping (<prefix>accounts) that upsale needs: which vgroups a
// platform account id belongs to, and which of some vgroups are mapped at all.
import type { Knex } from 'knex';

/** vg_ids mapped to this platform account id, ascending (normally one). */
export async function vgIdsByPlatformId(knex: Knex, prefix: string, platformId: string): Promise<number[]> {
  const rows: { vg_id: unknown; platform_id: unknown }[] = await knex(`${prefix}accounts`)
    .where({ platform_id: platformId })
    .select('vg_id', 'platform_id')
    .orderBy('vg_id');
  // exact match only: MySQL's default collation would also match other cases and trailing spaces
  return rows.filter((r) => String(r.platform_id) === platformId).map((r) => Number(r.vg_id));
}

/** The mapped vg_ids among `vgIds`, with the username each was mapped under. */
export async function mappedUsernames(
  knex: Knex,
  prefix: string,
  vgIds: number[],
): Promise<Map<number, string>> {
  if (vgIds.length === 0) return new Map();
  const rows: { vg_id: unknown; username: unknown }[] = await knex(`${prefix}accounts`)
    .whereIn('vg_id', vgIds)
    .select('vg_id', 'username');
  return new Map(rows.map((r) => [Number(r.vg_id), String(r.username)]));
}
