// The read side of the billing: every SELECT the service runs on LANBilling's tables is here, in
// knex, identical on PostgreSQL and MySQL/MariaDB.
//
// Shape of a load: one query for the vgroups (joined to agreement and card), then one for their
// services and one for their multitarifs, per CHUNK vgroups (an IN list of vg_ids, or a keyset
// page's vg_id range). So the number of queries depends on the number of chunks, never on the
// number of accounts or services, and every query walks an index (vgroups PK, services(vg_id),
// multitarifs(vg_id)). The fan-out queries may name vgroups that turn out not to be accounts
// (no agreement or card row): loading them then simply finds nothing.
//
// What counts as an account: a vgroup with template = 0 whose agreement and card rows exist (the
// core needs both; LANBilling never deletes them, it archives). Archived vgroups are accounts
// too: their subscriptions must be switched off on the platform.
//
// Times: `at` is an instant; the DATETIMEs compared with it in SQL are the billing's wall clock,
// so it goes in as clock.toWall(at), and what comes back is made instants by the same clock.
import type { Knex } from 'knex';
import { assembleAccounts, type MultitarifRow, type ServiceRow, type VgroupRow } from './account-rows.js';
import type { BillingClock } from './clock.js';
import type { AccountState } from './types.js';
import { int } from './values.js';

export interface BillingReader {
  /** One account as of `at`; null when there is no such live vgroup. */
  loadAccount(vgId: number, at: Date): Promise<AccountState | null>;
  /** The accounts among `vgIds` (duplicates and unknown ids ignored), in vg_id order. */
  loadAccounts(vgIds: number[], at: Date): Promise<AccountState[]>;
  /** Keyset page over every account (archived included): vg_id > afterVgId, ascending. */
  pageAccounts(afterVgId: number, limit: number, at: Date): Promise<AccountState[]>;
  /** vg_ids by exact (case-sensitive) login; a login is unique per agent only. Unknown logins are absent. */
  vgIdsByLogin(logins: string[]): Promise<Map<string, number[]>>;
  /** How many accounts pageAccounts visits. */
  countAccounts(): Promise<number>;
  /** Fan-out of an agreements row change (balance, state, archive). */
  vgIdsOfAgreement(agrmId: number): Promise<number[]>;
  /** Fan-out of an accounts (card) row change (email, archive). */
  vgIdsOfCard(uid: number): Promise<number[]>;
  /** Fan-out of a service_categories row change: accounts holding a services row on it that may still matter. */
  vgIdsHoldingCategory(tarId: number, servCatIdx: number, at?: Date): Promise<number[]>;
}

/** IN-list size: far below PostgreSQL's 65,535 parameters and MySQL's packet limit. */
const CHUNK = 1000;

/**
 * Services that ended more than this long before `at` are history: no longer in force and never
 * again, so they are not loaded (accounts with years of switches stay small). A day's margin keeps
 * anything a clock skew or a late event could still need.
 */
const HISTORY_MS = 24 * 60 * 60 * 1000;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

function vgIdList(ids: number[]): number[] {
  for (const id of ids) {
    if (!Number.isSafeInteger(id)) throw new TypeError(`not a vg_id: ${String(id)}`);
  }
  return [...new Set(ids)].sort((a, b) => a - b);
}

/**
 * A services row that may be in force at `at` or later: `timeto > at - 1 day`, plus a NULL
 * timeto (a hand-made replica) and the zero date (MySQL's '0000-00-00 …' and PostgreSQL's
 * '-infinity' sort below any real date), both "not set", which the mapping reads as open-ended.
 */
function stillMatters(
  q: Knex.QueryBuilder,
  timeto: string,
  at: Date,
  clock: BillingClock,
): Knex.QueryBuilder {
  const historyBefore = clock.toWall(new Date(at.getTime() - HISTORY_MS));
  return q.where((w) =>
    w.where(timeto, '>', historyBefore).orWhereNull(timeto).orWhere(timeto, '<', '1000-01-01 00:00:00'),
  );
}

/**
 * Which vgroups' children to fetch: an IN list for arbitrary ids, or a vg_id range for a keyset
 * page. The range is an index range scan over rows that lie together (services are inserted per
 * vgroup): about five times cheaper on PostgreSQL than an IN list of 1,000 parameters. It may also
 * fetch rows of vgroups in the range that aren't accounts (templates); assembly ignores them.
 */
type Owners = { ids: number[] } | { after: number; upTo: number };

function whereOwner(q: Knex.QueryBuilder, column: string, owners: Owners): Knex.QueryBuilder {
  return 'ids' in owners
    ? q.whereIn(column, owners.ids)
    : q.where(column, '>', owners.after).andWhere(column, '<=', owners.upTo);
}

function ids(rows: { vg_id: unknown }[]): number[] {
  return rows.map((r) => int(r.vg_id, 'vgroups.vg_id'));
}

export function billingReader(knex: Knex, clock: BillingClock): BillingReader {
  /** Live vgroups with the agreement and card the core needs; the caller adds the filter. */
  function accountsQuery() {
    return knex('vgroups as v')
      .join('agreements as a', 'a.agrm_id', 'v.agrm_id')
      .join('accounts as c', 'c.uid', 'v.uid')
      .where('v.template', 0);
  }

  function vgroupRows(filter: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<VgroupRow[]> {
    return filter(
      accountsQuery().select(
        'v.vg_id',
        'v.login',
        'v.id as agent_id',
        'v.tar_id',
        'v.blocked',
        'v.archive as vg_archive',
        'a.agrm_id',
        'a.number as agrm_number',
        'a.balance',
        'a.credit',
        'a.state as agrm_state',
        'a.archive as agrm_archive',
        'c.uid',
        'c.name as card_name',
        'c.email',
        'c.archive as card_archive',
      ),
    ).orderBy('v.vg_id');
  }

  /**
   * Services of the vgroups that may still matter. Dropped in SQL already: rows whose category
   * exists with an empty uuid (not TV; an internet account has many of those). A missing category
   * is kept (LEFT JOIN): the core reports it.
   */
  function serviceRows(owners: Owners, at: Date): Promise<ServiceRow[]> {
    const q = knex('services as s').leftJoin('service_categories as sc', function joinCategory() {
      this.on('sc.tar_id', 's.tar_id').andOn('sc.serv_cat_idx', 's.serv_cat_idx');
    });
    return stillMatters(whereOwner(q, 's.vg_id', owners), 's.timeto', at, clock)
      .where((q) => q.whereNull('sc.tar_id').orWhere('sc.uuid', '<>', ''))
      .select(
        's.service_id',
        's.vg_id',
        's.tar_id',
        's.serv_cat_idx',
        'sc.tar_id as cat_tar_id',
        'sc.uuid',
        'sc.service_type',
        's.timefrom',
        's.timeto',
        's.state',
        's.need_calc',
      )
      .orderBy([{ column: 's.vg_id' }, { column: 's.service_id' }]);
  }

  /** Every multitarifs row of the vgroups: windows are evaluated by the core at its own t. */
  function multitarifRows(owners: Owners): Promise<MultitarifRow[]> {
    return whereOwner(knex('multitarifs'), 'vg_id', owners)
      .select('record_id', 'vg_id', 'tar_id', 'dtfrom', 'dtto')
      .orderBy([{ column: 'vg_id' }, { column: 'record_id' }]);
  }

  /**
   * Adds services and multitarifs to vgroup rows, CHUNK vgroups at a time. `pageAfter` = the rows
   * are a keyset page starting after that vg_id, so children can be fetched by range.
   */
  async function withChildren(vgroups: VgroupRow[], at: Date, pageAfter?: number): Promise<AccountState[]> {
    const out: AccountState[] = [];
    let after = pageAfter;
    for (const part of chunks(vgroups)) {
      const found = ids(part);
      const upTo = found[found.length - 1]!;
      const owners: Owners = after === undefined ? { ids: found } : { after, upTo };
      const [services, multitarifs] = await Promise.all([serviceRows(owners, at), multitarifRows(owners)]);
      out.push(...assembleAccounts(part, services, multitarifs, clock));
      if (after !== undefined) after = upTo;
    }
    return out;
  }

  async function loadAccounts(vgIds: number[], at: Date): Promise<AccountState[]> {
    const out: AccountState[] = [];
    for (const part of chunks(vgIdList(vgIds))) {
      const rows = await vgroupRows((q) => q.whereIn('v.vg_id', part));
      if (rows.length > 0) out.push(...(await withChildren(rows, at)));
    }
    return out;
  }

  async function vgIdsWhere(filter: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<number[]> {
    const rows = await filter(knex('vgroups').where('template', 0)).select('vg_id').orderBy('vg_id');
    return ids(rows);
  }

  return {
    async loadAccount(vgId, at) {
      const [account] = await loadAccounts([vgId], at);
      return account ?? null;
    },

    loadAccounts,

    async pageAccounts(afterVgId, limit, at) {
      if (!Number.isSafeInteger(afterVgId)) throw new TypeError(`not a vg_id: ${String(afterVgId)}`);
      if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`page size must be >= 1: ${limit}`);
      const rows = await vgroupRows((q) => q.where('v.vg_id', '>', afterVgId).limit(limit));
      return withChildren(rows, at, afterVgId);
    },

    async vgIdsByLogin(logins) {
      const wanted = new Set(logins);
      const out = new Map<string, number[]>();
      for (const part of chunks([...wanted])) {
        const rows: { login: unknown; vg_id: unknown }[] = await knex('vgroups')
          .where('template', 0)
          .whereIn('login', part)
          .select('login', 'vg_id')
          .orderBy('vg_id');
        for (const r of rows) {
          // MySQL compares case- and trailing-space-insensitively ('SVC-Basic ' = 'svc-basic');
          // the platform username is prefix + the login exactly, so only exact matches count.
          const login = String(r.login);
          if (!wanted.has(login)) continue;
          const list = out.get(login);
          if (list) list.push(int(r.vg_id, 'vgroups.vg_id'));
          else out.set(login, [int(r.vg_id, 'vgroups.vg_id')]);
        }
      }
      return out;
    },

    async countAccounts() {
      const [row] = await accountsQuery().count({ n: '*' });
      return int(row?.n ?? 0, 'count');
    },

    vgIdsOfAgreement: (agrmId) => vgIdsWhere((q) => q.where('agrm_id', agrmId)),

    vgIdsOfCard: (uid) => vgIdsWhere((q) => q.where('uid', uid)),

    vgIdsHoldingCategory(tarId, servCatIdx, at = new Date()) {
      const holders = stillMatters(
        knex('services').where({ tar_id: tarId, serv_cat_idx: servCatIdx }),
        'timeto',
        at,
        clock,
      );
      return vgIdsWhere((q) => q.whereIn('vg_id', holders.select('vg_id')));
    },
  };
}
