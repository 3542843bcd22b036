// Rows of the read side's three queries (vgroup with its agreement and card, services with their
// category, multitarifs) assembled into AccountState values. No SQL here: read.ts owns it.
import type { BillingClock } from './clock.js';
import type { AccountState, AssignedService, MultiTariff } from './types.js';
import { flag, int, money, textOrNull, trimmedOrNull, windowEnd, windowStart } from './values.js';

/** vgroups ⋈ agreements ⋈ accounts, one row per vgroup (column aliases chosen in read.ts). */
export interface VgroupRow {
  vg_id: unknown;
  login: unknown;
  agent_id: unknown;
  tar_id: unknown;
  blocked: unknown;
  vg_archive: unknown;
  agrm_id: unknown;
  agrm_number: unknown;
  balance: unknown;
  credit: unknown;
  agrm_state: unknown;
  agrm_archive: unknown;
  uid: unknown;
  card_name: unknown;
  email: unknown;
  card_archive: unknown;
}

/** services ⟕ service_categories; `cat_tar_id` null = the category row is missing. */
export interface ServiceRow {
  service_id: unknown;
  vg_id: unknown;
  tar_id: unknown;
  serv_cat_idx: unknown;
  cat_tar_id: unknown;
  uuid: unknown;
  service_type: unknown;
  timefrom: unknown;
  timeto: unknown;
  state: unknown;
  need_calc: unknown;
}

export interface MultitarifRow {
  record_id: unknown;
  vg_id: unknown;
  tar_id: unknown;
  dtfrom: unknown;
  dtto: unknown;
}

/**
 * The service as the core sees it, or null when it is not a TV service: its category exists but
 * has no uuid. MySQL already drops whitespace-only uuids in SQL (PAD SPACE collation: '  ' = '');
 * PostgreSQL doesn't, so they are dropped here too and both dialects agree. A missing category
 * is kept with uuid and serviceType null: the core reports it.
 */
export function toService(r: ServiceRow, clock: BillingClock): AssignedService | null {
  const categoryMissing = r.cat_tar_id === null || r.cat_tar_id === undefined;
  const uuid = categoryMissing ? null : trimmedOrNull(r.uuid);
  if (!categoryMissing && uuid === null) return null;
  return {
    serviceId: int(r.service_id, 'services.service_id'),
    tarId: int(r.tar_id, 'services.tar_id'),
    servCatIdx: int(r.serv_cat_idx, 'services.serv_cat_idx'),
    uuid,
    serviceType: categoryMissing ? null : int(r.service_type, 'service_categories.service_type'),
    timefrom: windowStart(r.timefrom, 'services.timefrom', clock),
    timeto: windowEnd(r.timeto, 'services.timeto', clock),
    state: int(r.state, 'services.state'),
    needCalc: int(r.need_calc, 'services.need_calc'),
  };
}

export function toMultiTariff(r: MultitarifRow, clock: BillingClock): MultiTariff {
  return {
    recordId: int(r.record_id, 'multitarifs.record_id'),
    tarId: int(r.tar_id, 'multitarifs.tar_id'),
    dtfrom: windowStart(r.dtfrom, 'multitarifs.dtfrom', clock),
    dtto: windowEnd(r.dtto, 'multitarifs.dtto', clock),
  };
}

function groupByVgId<R extends { vg_id: unknown }, T>(rows: R[], map: (r: R) => T | null): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const r of rows) {
    const value = map(r);
    if (value === null) continue;
    const vgId = int(r.vg_id, 'vg_id');
    const list = out.get(vgId);
    if (list) list.push(value);
    else out.set(vgId, [value]);
  }
  return out;
}

/** One AccountState per vgroup row, in the order of `vgroups`; children keep their query order. */
export function assembleAccounts(
  vgroups: VgroupRow[],
  services: ServiceRow[],
  multitarifs: MultitarifRow[],
  clock: BillingClock,
): AccountState[] {
  const servicesOf = groupByVgId(services, (r) => toService(r, clock));
  const multitarifsOf = groupByVgId(multitarifs, (r) => toMultiTariff(r, clock));
  return vgroups.map((v) => {
    const vgId = int(v.vg_id, 'vgroups.vg_id');
    return {
      vgId,
      login: String(v.login),
      agentId: int(v.agent_id, 'vgroups.id'),
      tarId: int(v.tar_id, 'vgroups.tar_id'),
      blocked: int(v.blocked, 'vgroups.blocked'),
      archive: flag(v.vg_archive),
      agreement: {
        agrmId: int(v.agrm_id, 'agreements.agrm_id'),
        number: textOrNull(v.agrm_number),
        balance: money(v.balance, 'agreements.balance'),
        credit: money(v.credit, 'agreements.credit'),
        state: int(v.agrm_state, 'agreements.state'),
        archive: flag(v.agrm_archive),
      },
      card: {
        uid: int(v.uid, 'accounts.uid'),
        name: textOrNull(v.card_name),
        email: trimmedOrNull(v.email),
        archive: flag(v.card_archive),
      },
      multitarifs: multitarifsOf.get(vgId) ?? [],
      services: servicesOf.get(vgId) ?? [],
    };
  });
}
