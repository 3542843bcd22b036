// What the capture triggers look at, per captured table.
//
// CAPTURED_COLUMNS: the columns that can change what the platform should have (what the read
// model, the reattachment of layout 2 and the platform scan read, plus the keys). The triggers skip
// an UPDATE that changes none of them (a card's phone, a vgroup's description, last_mod_date);
// Debezium streams every update, so translate.ts filters by them too. A column the service starts
// to read must be added here; `migrate` then replaces the triggers (their definition changed).
//
// CHANGE_KEYS: what a change-log row carries for the reader: the account (vg_id) or the fan-out key
// the reader resolves to accounts (agreement, card, tariff category). Never a row image: the
// reconcile reads the billing as it is now, so the key is all a change has to say.
//
// PRIMARY_KEYS: LANBilling's primary key of each table. PostgreSQL's statement-level triggers pair
// the old and new rows of an UPDATE by it, to skip rows whose captured columns didn't change.
import type { CapturedTable } from './types.js';

export const CAPTURED_COLUMNS: Record<CapturedTable, readonly string[]> = {
  vgroups: ['vg_id', 'id', 'agrm_id', 'uid', 'tar_id', 'login', 'blocked', 'archive', 'template'],
  services: ['service_id', 'vg_id', 'tar_id', 'serv_cat_idx', 'timefrom', 'timeto', 'state', 'need_calc'],
  agreements: ['agrm_id', 'uid', 'balance', 'credit', 'state', 'archive'],
  accounts: ['uid', 'email', 'archive'],
  service_categories: ['tar_id', 'serv_cat_idx', 'uuid', 'service_type', 'enabled', 'available', 'archive'],
  multitarifs: ['record_id', 'vg_id', 'tar_id', 'dtfrom', 'dtto'],
};

/** The change-log columns, in order: one key per row (a composite one for categories). */
export const KEY_COLUMNS = ['vg_id', 'agrm_id', 'uid', 'tar_id', 'serv_cat_idx'] as const;
export type KeyColumn = (typeof KEY_COLUMNS)[number];

export const CHANGE_KEYS: Record<CapturedTable, readonly KeyColumn[]> = {
  vgroups: ['vg_id'],
  services: ['vg_id'],
  multitarifs: ['vg_id'],
  agreements: ['agrm_id'],
  accounts: ['uid'],
  service_categories: ['tar_id', 'serv_cat_idx'],
};

export const PRIMARY_KEYS: Record<CapturedTable, readonly string[]> = {
  vgroups: ['vg_id'],
  services: ['service_id'],
  multitarifs: ['record_id'],
  agreements: ['agrm_id'],
  accounts: ['uid'],
  service_categories: ['tar_id', 'serv_cat_idx'],
};
