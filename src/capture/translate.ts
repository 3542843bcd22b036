// From row changes to the accounts they affect. A change event says *which accounts* to look at,
// never what to call: the reconcile reads the billing as it is now. So the only questions here are
// whose desired state a row can change, and whether this change could change it at all.
//
//   services, multitarifs  → their vgroup (before and after: a row can move between vgroups)
//   vgroups                → itself
//   agreements             → every vgroup of the agreement   (balance, credit, state, archive)
//   accounts (card)        → every vgroup of the card        (email, archive)
//   service_categories     → every vgroup holding a service of that category that still matters
//                            (uuid, service_type, enabled, archive)
//
// The fan-out tables are filtered by column (columns.ts): an UPDATE that changes none of the columns
// the service reads (a card's phone, an agreement's last_mod_date) queues nothing, because on a big
// card or catalogue row one pointless change would mean thousands of reconciles. The capture
// triggers already skip such updates and log only the key; Debezium streams every update with full
// images, so the filter is here too. An image without the columns (the change log's key-only rows)
// proves nothing and counts. Inserts and deletes always count.
import type { PendingEntry } from '../state/pending.js';
import { CAPTURED_COLUMNS, CHANGE_KEYS, type KeyColumn } from './columns.js';
import type { CapturedTable, ChangeEvent } from './types.js';

/** The billing lookups the fan-out needs (src/billing/read.ts implements them). */
export interface Fanout {
  vgIdsOfAgreement(agrmId: number): Promise<number[]>;
  vgIdsOfCard(uid: number): Promise<number[]>;
  vgIdsHoldingCategory(tarId: number, servCatIdx: number, at?: Date): Promise<number[]>;
}

/** Columns whose change can change an account's desired state, per fan-out table (the captured ones). */
export const RELEVANT_COLUMNS: Partial<Record<CapturedTable, readonly string[]>> = {
  agreements: CAPTURED_COLUMNS.agreements,
  accounts: CAPTURED_COLUMNS.accounts,
  service_categories: CAPTURED_COLUMNS.service_categories,
};

/** False for an UPDATE whose images show that none of the table's relevant columns changed. */
export function matters(e: ChangeEvent): boolean {
  const columns = RELEVANT_COLUMNS[e.table];
  const { before, after } = e;
  if (!columns || e.op !== 'update' || !before || !after) return true;
  const shown = columns.filter((c) => c in before && c in after);
  if (shown.some((c) => !sameValue(before[c], after[c]))) return true;
  // only the key to compare (the change log's rows: the trigger already compared the columns)
  // proves nothing: the change counts
  const keys = CHANGE_KEYS[e.table];
  return shown.every((c) => keys.includes(c as KeyColumn));
}

function sameValue(a: unknown, b: unknown): boolean {
  // images come from JSON: numbers and strings of the same value (a decimal as "1.50" vs 1.5) are
  // compared by meaning where both read as numbers
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  const na = Number(a);
  const nb = Number(b);
  if (
    typeof a !== 'object' &&
    typeof b !== 'object' &&
    !Number.isNaN(na) &&
    !Number.isNaN(nb) &&
    String(a).trim() !== '' &&
    String(b).trim() !== ''
  ) {
    return na === nb;
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

function intOf(image: Record<string, unknown> | null, column: string): number | null {
  const v = image?.[column];
  if (v === null || v === undefined) return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

/** The distinct non-null values of `column` in the before and after images. */
function keys(e: ChangeEvent, column: string): number[] {
  const out = new Set<number>();
  for (const image of [e.before, e.after]) {
    const v = intOf(image, column);
    if (v !== null) out.add(v);
  }
  return [...out];
}

/** Category keys (tar_id, serv_cat_idx) of the before and after images, distinct. */
function categoryKeys(e: ChangeEvent): [number, number][] {
  const out = new Map<string, [number, number]>();
  for (const image of [e.before, e.after]) {
    const tar = intOf(image, 'tar_id');
    const idx = intOf(image, 'serv_cat_idx');
    if (tar !== null && idx !== null) out.set(`${tar}/${idx}`, [tar, idx]);
  }
  return [...out.values()];
}

/** The vg_ids one change affects. */
export async function affectedAccounts(e: ChangeEvent, fanout: Fanout, at: Date): Promise<number[]> {
  if (!matters(e)) return [];
  switch (e.table) {
    case 'services':
    case 'multitarifs':
    case 'vgroups':
      return keys(e, 'vg_id');
    case 'agreements':
      return (await Promise.all(keys(e, 'agrm_id').map((id) => fanout.vgIdsOfAgreement(id)))).flat();
    case 'accounts':
      return (await Promise.all(keys(e, 'uid').map((uid) => fanout.vgIdsOfCard(uid)))).flat();
    case 'service_categories':
      return (
        await Promise.all(categoryKeys(e).map(([tar, idx]) => fanout.vgIdsHoldingCategory(tar, idx, at)))
      ).flat();
  }
}

/**
 * A batch of changes → one queue entry per affected account. The entry keeps the table and
 * position of the account's last change in the batch. Fan-out lookups are memoised within the
 * batch: a thousand balance changes of one agreement cost one query.
 */
export async function translate(events: ChangeEvent[], fanout: Fanout, at: Date): Promise<PendingEntry[]> {
  const memo = new Map<string, Promise<number[]>>();
  const once = (key: string, load: () => Promise<number[]>) => {
    let p = memo.get(key);
    if (!p) {
      p = load();
      memo.set(key, p);
    }
    return p;
  };
  const cached: Fanout = {
    vgIdsOfAgreement: (id) => once(`a${id}`, () => fanout.vgIdsOfAgreement(id)),
    vgIdsOfCard: (uid) => once(`c${uid}`, () => fanout.vgIdsOfCard(uid)),
    vgIdsHoldingCategory: (tar, idx) =>
      once(`s${tar}/${idx}`, () => fanout.vgIdsHoldingCategory(tar, idx, at)),
  };
  const out = new Map<number, PendingEntry>();
  for (const e of events) {
    for (const vgId of await affectedAccounts(e, cached, at))
      out.set(vgId, { vgId, reason: e.table, source: e.position });
  }
  return [...out.values()];
}
