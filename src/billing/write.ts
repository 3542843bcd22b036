// The write path into LANBilling: every INSERT/UPDATE the service makes on the billing's own
// tables is here. Used by upsale commit and re-attach (and meant for the platform-changes mirror):
// one database transaction per account, the vgroups row locked first, so that two writers of one
// account never interleave and each re-checks its rules on what the other committed. Every
// DATETIME written is the billing's wall clock of an instant (clock.ts).
import type { Knex } from 'knex';
import type { BillingClock } from './clock.js';

/** `services.timeto` of a service with no end (spec/lanbilling.md). */
export const OPEN_END = '9999-12-31 23:59:59';

/** A new `services` row. Money-free: the billing core charges it by its own rules. */
export interface NewService {
  vgId: number;
  tarId: number;
  servCatIdx: number;
  timefrom: Date;
  /** null = open-ended */
  timeto: Date | null;
  /** decimal as text, e.g. "1" */
  mul: string;
  /** the manager; null = the subscriber did it */
  personId: number | null;
  comment: string;
  /** 1 charge, 0 don't */
  needCalc: number;
  /** 1 on not yet activated, 3 on and activated */
  state: number;
  /** null = not activated: the column keeps its DEFAULT (the zero date) */
  activated: Date | null;
  /** null = none: the column keeps its DEFAULT ('') */
  externalData: string | null;
}

const RETRIES = 4;

/**
 * Deadlocks and serialization failures are the server choosing a victim, not a fault of the
 * work: PostgreSQL 40P01/40001, MySQL/MariaDB 1213 (deadlock) and 1205 (lock wait timeout).
 */
function isRetryable(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown };
  return e?.code === '40P01' || e?.code === '40001' || e?.errno === 1213 || e?.errno === 1205;
}

/**
 * Runs `work` in one transaction with the account's vgroups row locked (SELECT … FOR UPDATE) and
 * answers its result; answers null, having written nothing, when there is no such live vgroup.
 *
 * The servers' default isolation is kept on purpose: on PostgreSQL (READ COMMITTED) every
 * statement after the lock sees what the previous holder committed; on InnoDB (REPEATABLE READ)
 * the snapshot is taken by the first plain read, which comes after the locking read here, so it
 * too sees the previous holder's commit. Asking MySQL for READ COMMITTED instead would break
 * writes on servers that binlog in STATEMENT format (error 1665), common on older LANBilling hosts.
 * `work` may run more than once (a deadlock victim is retried), so it must do nothing outside `trx`.
 */
export async function withVgroupLocked<T>(
  knex: Knex,
  vgId: number,
  work: (trx: Knex.Transaction) => Promise<T>,
): Promise<T | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await knex.transaction(async (trx) => {
        // the first statement: nothing may read before the lock is held (see above)
        const locked = await trx('vgroups').where({ vg_id: vgId, template: 0 }).forUpdate().first('vg_id');
        if (!locked) return null;
        return work(trx);
      });
    } catch (err) {
      if (attempt >= RETRIES || !isRetryable(err)) throw err;
      await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
    }
  }
}

/**
 * Inserts one services row; answers its service_id. What is not set is left out, so that the
 * column keeps the billing's own DEFAULT: the real schema declares `activated` and
 * `external_data` NOT NULL (the zero date, ''), and a NULL there is refused in every sql_mode.
 * `created` is the billing's TIMESTAMP DEFAULT CURRENT_TIMESTAMP: the server fills it.
 */
export async function insertService(
  trx: Knex.Transaction,
  s: NewService,
  clock: BillingClock,
): Promise<number> {
  const row: Record<string, unknown> = {
    vg_id: s.vgId,
    tar_id: s.tarId,
    serv_cat_idx: s.servCatIdx,
    mul: s.mul,
    person_id: s.personId,
    comment: s.comment,
    timefrom: clock.toWall(s.timefrom),
    timeto: s.timeto === null ? OPEN_END : clock.toWall(s.timeto),
    need_calc: s.needCalc,
    state: s.state,
  };
  if (s.activated !== null) row.activated = clock.toWall(s.activated);
  if (s.externalData !== null) row.external_data = s.externalData;
  // PostgreSQL answers the key through RETURNING ([{service_id}]); MySQL has no RETURNING and
  // mysql2 answers [insertId]
  const postgres = (trx.client as { dialect?: string }).dialect === 'postgresql';
  const query = trx('services').insert(row);
  const inserted: unknown[] = await (postgres ? query.returning('service_id') : query);
  const first = inserted[0] as { service_id?: unknown } | number | undefined;
  const id = typeof first === 'object' && first !== null ? Number(first.service_id) : Number(first);
  if (!Number.isSafeInteger(id) || id <= 0)
    throw new Error(`services insert answered no service_id: ${JSON.stringify(inserted)}`);
  return id;
}

/**
 * Stops a service at `at` by closing its `timeto` (how LANBilling stops a service); only when it
 * would still be in force after `at`, so closing twice changes nothing. Answers whether it changed.
 */
export async function closeService(
  trx: Knex.Transaction,
  serviceId: number,
  at: Date,
  clock: BillingClock,
): Promise<boolean> {
  const when = clock.toWall(at);
  const n = await trx('services')
    .where({ service_id: serviceId })
    .andWhere((w) => stillOpenAfter(w, when))
    .update({ timeto: when });
  return n === 1;
}

/**
 * `timeto` ends after the wall time `when`, or is not set (NULL, or the zero date: MySQL's
 * '0000-00-00' and PostgreSQL's '-infinity' sort below any real date), which means open.
 */
export function stillOpenAfter(w: Knex.QueryBuilder, when: string, column = 'timeto'): Knex.QueryBuilder {
  return w.where(column, '>', when).orWhereNull(column).orWhere(column, '<', '1000-01-01 00:00:00');
}
