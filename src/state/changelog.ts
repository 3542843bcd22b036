// The change log written by the capture triggers (migrations/capture/): reading a batch, deleting
// what was handled, and its age for /health. Rows are deleted once their accounts are durably
// queued, so the table holds exactly the changes not yet handled. One row = one changed key of one
// captured table (columns.ts: CHANGE_KEYS); the same columns on every server, only the row's own
// key differs: an identity `id` on PostgreSQL, (created_at, conn_id, seq) on MySQL/MariaDB, where
// an AUTO_INCREMENT would make every billing statement "unsafe" under a STATEMENT binlog.
//
// Locks. The billing's writers must never wait for the reader. Reading is a plain consistent read
// (no lock at all); deleting names each row by its full primary key, so InnoDB locks exactly those
// records (a unique-key equality takes no gap lock) and the triggers' inserts of new rows proceed
// while the batch transaction is open, at the server's default REPEATABLE READ. READ COMMITTED
// isn't needed for that, and isn't allowed under binlog_format=STATEMENT (error 1665) anyway.
// PostgreSQL takes no such locks.
import type { Knex } from 'knex';
import { captureNames } from '../../migrations/capture/index.js';
import { CHANGE_KEYS, KEY_COLUMNS } from '../capture/columns.js';
import { CAPTURED_TABLES, type CapturedTable, type ChangeEvent } from '../capture/types.js';

export interface ChangeRow {
  /** the row's own key: the id (PostgreSQL) or "created_at|conn_id|seq" (MySQL) */
  handle: string;
  event: ChangeEvent | null;
  /** why `event` is null: the row can't be read (a table we don't capture, a missing key) */
  unreadable?: string;
}

const OPS: Record<string, ChangeEvent['op']> = { I: 'insert', U: 'update', D: 'delete' };
const TABLES = new Set<string>(CAPTURED_TABLES);
/** rows per DELETE: an OR of primary-key equalities the optimizer turns into point lookups */
const DELETE_CHUNK = 200;

/**
 * A change-log row → the event translate() takes: the key as the row's image (before for a
 * delete, after for an insert, both for an update). translate's matters() knows such a key-only
 * image proves nothing about other columns, and counts the change.
 */
export function toChangeRow(r: Record<string, unknown>, handle: string): ChangeRow {
  try {
    const table = String(r.table_name);
    const op = OPS[String(r.op)];
    if (!TABLES.has(table)) throw new Error(`table "${table}" is not captured`);
    if (!op) throw new Error(`unknown operation "${String(r.op)}"`);
    const key: Record<string, number> = {};
    for (const column of CHANGE_KEYS[table as CapturedTable]) {
      const v = r[column];
      const n = typeof v === 'number' ? v : Number(v);
      if (v === null || v === undefined || !Number.isSafeInteger(n)) throw new Error(`no ${column}`);
      key[column] = n;
    }
    return {
      handle,
      event: {
        table: table as CapturedTable,
        op,
        before: op === 'insert' ? null : key,
        after: op === 'delete' ? null : key,
        position: `changelog:${handle}`,
        committedAt: r.created_at instanceof Date ? r.created_at : null,
      },
    };
  } catch (err) {
    return { handle, event: null, unreadable: (err as Error).message };
  }
}

export class ChangeLog {
  readonly table: string;

  constructor(
    private readonly knex: Knex,
    prefix: string,
    readonly dialect: 'pg' | 'mysql',
  ) {
    this.table = captureNames(prefix).changes;
  }

  private get order(): string[] {
    return this.dialect === 'pg' ? ['id'] : ['created_at', 'conn_id', 'seq'];
  }

  /** The oldest `limit` rows visible to `trx`, oldest first. A plain read: it locks nothing. */
  async read(trx: Knex.Transaction, limit: number): Promise<ChangeRow[]> {
    const select: (string | Knex.Raw)[] = ['table_name', 'op', ...KEY_COLUMNS, 'created_at'];
    if (this.dialect === 'pg') select.push('id');
    // microseconds survive as text; a JS Date would round them off and miss the row on delete
    else
      select.push(
        trx.raw("DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f') AS created_key"),
        'conn_id',
        'seq',
      );
    let query = trx(this.table).select(select);
    for (const column of this.order) query = query.orderBy(column);
    const rows = await query.limit(limit);
    return rows.map((r) =>
      toChangeRow(r, this.dialect === 'pg' ? String(r.id) : `${r.created_key}|${r.conn_id}|${r.seq}`),
    );
  }

  /** Deletes the rows read by `read` (by their full primary key: only those records are locked). */
  async remove(trx: Knex.Transaction, rows: ChangeRow[]): Promise<void> {
    const handles = rows.map((r) => r.handle);
    for (let i = 0; i < handles.length; i += DELETE_CHUNK) {
      const chunk = handles.slice(i, i + DELETE_CHUNK);
      if (this.dialect === 'pg') {
        await trx(this.table).whereIn('id', chunk).delete();
        continue;
      }
      const keys = chunk.map((h) => h.split('|'));
      await trx.raw(
        `DELETE FROM ?? WHERE ${keys.map(() => '(created_at = ? AND conn_id = ? AND seq = ?)').join(' OR ')}`,
        [this.table, ...keys.flat()],
      );
    }
  }

  /** Age of the oldest change not yet handled, in ms (by the database's clock); null when none. */
  async lagMs(): Promise<number | null> {
    const sql =
      this.dialect === 'pg'
        ? 'SELECT EXTRACT(EPOCH FROM (now() - created_at)) * 1000 AS ms FROM ?? ORDER BY id LIMIT 1'
        : 'SELECT TIMESTAMPDIFF(MICROSECOND, created_at, UTC_TIMESTAMP(6)) / 1000 AS ms FROM ?? ORDER BY created_at, conn_id, seq LIMIT 1';
    const r = await this.knex.raw(sql, [this.table]);
    const row = (this.dialect === 'pg' ? r.rows : r[0])[0];
    return row ? Math.max(0, Math.round(Number(row.ms))) : null;
  }

  /** One cheap look (no transaction): is anything waiting? */
  async any(): Promise<boolean> {
    return (await this.knex(this.table).select(this.knex.raw('1 AS x')).limit(1)).length > 0;
  }

  async count(): Promise<number> {
    const [row] = await this.knex(this.table).count({ n: '*' });
    return Number(row?.n ?? 0);
  }
}
