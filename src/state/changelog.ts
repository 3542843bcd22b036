// The change log written by the capture triggers (migrations/capture/): reading a batch, deleting
// what was handled, and its age for /health. Rows are deleted once their accounts are durably
// queued, so the table holds exactly the changes not yet handled.
import type { Knex } from 'knex';
import { captureNames } from '../../migrations/capture/index.js';
import { CAPTURED_TABLES, type CapturedTable, type ChangeEvent } from '../capture/types.js';

export interface ChangeRow {
  /** bigint: kept as a string */
  id: string;
  event: ChangeEvent | null;
  /** why `event` is null: the row can't be read (a table we don't capture, broken JSON) */
  unreadable?: string;
}

const OPS: Record<string, ChangeEvent['op']> = { I: 'insert', U: 'update', D: 'delete' };
const TABLES = new Set<string>(CAPTURED_TABLES);

function image(v: unknown): Record<string, unknown> | null {
  if (v === null || v === undefined) return null;
  // jsonb arrives parsed from PostgreSQL, LONGTEXT as text from MySQL
  const parsed = typeof v === 'string' ? JSON.parse(v) : v;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('row image is not a JSON object');
  return parsed as Record<string, unknown>;
}

export function toChangeRow(r: Record<string, unknown>): ChangeRow {
  const id = String(r.id);
  try {
    const table = String(r.table_name);
    const op = OPS[String(r.op)];
    if (!TABLES.has(table)) throw new Error(`table "${table}" is not captured`);
    if (!op) throw new Error(`unknown operation "${String(r.op)}"`);
    return {
      id,
      event: {
        table: table as CapturedTable,
        op,
        before: image(r.row_before),
        after: image(r.row_after),
        position: `changelog:${id}`,
        committedAt: r.created_at instanceof Date ? r.created_at : null,
      },
    };
  } catch (err) {
    return { id, event: null, unreadable: (err as Error).message };
  }
}

export class ChangeLog {
  readonly table: string;

  constructor(
    private readonly knex: Knex,
    prefix: string,
    readonly dialect: 'pg' | 'mysql',
  ) {
    this.table = captureNames(prefix).changelog;
  }

  /** The oldest `limit` rows visible to `trx`, in id order. */
  async read(trx: Knex.Transaction, limit: number): Promise<ChangeRow[]> {
    const rows = await trx(this.table)
      .select('id', 'table_name', 'op', 'row_before', 'row_after', 'created_at')
      .orderBy('id')
      .limit(limit);
    return rows.map(toChangeRow);
  }

  async remove(trx: Knex.Transaction, ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 1000)
      await trx(this.table)
        .whereIn('id', ids.slice(i, i + 1000))
        .delete();
  }

  /** Age of the oldest change not yet handled, in ms (by the database's clock); null when none. */
  async lagMs(): Promise<number | null> {
    const sql =
      this.dialect === 'pg'
        ? `SELECT EXTRACT(EPOCH FROM (now() - created_at)) * 1000 AS ms FROM ?? ORDER BY id LIMIT 1`
        : `SELECT TIMESTAMPDIFF(MICROSECOND, created_at, UTC_TIMESTAMP(6)) / 1000 AS ms FROM ?? ORDER BY id LIMIT 1`;
    const r = await this.knex.raw(sql, [this.table]);
    const row = (this.dialect === 'pg' ? r.rows : r[0])[0];
    return row ? Math.max(0, Math.round(Number(row.ms))) : null;
  }

  /** One cheap look (no transaction): is anything waiting? */
  async any(): Promise<boolean> {
    return (await this.knex(this.table).select('id').limit(1)).length > 0;
  }

  async count(): Promise<number> {
    const [row] = await this.knex(this.table).count({ n: '*' });
    return Number(row?.n ?? 0);
  }
}
