// The columns of each captured table that can change what the platform should have: what the
// read model, the reattachment of layout 2 and the platform scan read, plus the keys. The capture
// triggers skip an UPDATE that changes none of them (a card's phone, a vgroup's description,
// last_mod_date), and on MySQL/MariaDB write only these into the row images, because building
// JSON of every column is most of a trigger's cost there. A column the service starts to read must
// be added here (and the triggers re-created: `migrate --uninstall`, then `migrate`).
import type { CapturedTable } from './types.js';

export const CAPTURED_COLUMNS: Record<CapturedTable, readonly string[]> = {
  vgroups: ['vg_id', 'id', 'agrm_id', 'uid', 'tar_id', 'login', 'blocked', 'archive', 'template'],
  services: ['service_id', 'vg_id', 'tar_id', 'serv_cat_idx', 'timefrom', 'timeto', 'state', 'need_calc'],
  agreements: ['agrm_id', 'uid', 'balance', 'credit', 'state', 'archive'],
  accounts: ['uid', 'email', 'archive'],
  service_categories: ['tar_id', 'serv_cat_idx', 'uuid', 'service_type', 'enabled', 'available', 'archive'],
  multitarifs: ['record_id', 'vg_id', 'tar_id', 'dtfrom', 'dtto'],
};
