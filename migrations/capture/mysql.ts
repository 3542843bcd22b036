// Trigger capture on MySQL/MariaDB.
//
// MySQL has no "row as JSON", so each trigger lists columns: JSON_OBJECT('vg_id', NEW.vg_id, ...).
// Only the captured columns (src/capture/columns.ts) that the table has, checked against
// information_schema when `migrate` runs: building JSON of every column was most of the trigger's
// cost (2.5x on single-row writes in the benchmark). Decimals are cast to text so that money keeps
// its exact digits in the image.
//
// An UPDATE that changes none of the captured columns is skipped (MySQL fires AFTER UPDATE for
// every matched row, changed or not).
// The change log gets `created_at` in UTC whatever the writer's session time zone is. There is no
// transaction id: a trigger can't read it cheaply or reliably (information_schema.innodb_trx is a
// snapshot cached for 0.1 s: rows of different transactions got the same trx_id when we tried), and
// the reader doesn't need one (see src/capture/triggers/reader.ts), so `txid` stays NULL here.
//
// Polling, not a notification, wakes the reader on MySQL. DDL isn't transactional here: install
// only adds what is missing, so running it again never leaves a table uncaptured for a moment.
import type { Knex } from 'knex';
import { CAPTURED_COLUMNS } from '../../src/capture/columns.js';
import { CAPTURED_TABLES, type CapturedTable } from '../../src/capture/types.js';
import { type CaptureNames, ROW_OPS, type RowOp } from './names.js';
import { captureRefusal, parseMysqlVersion } from './version.js';

const EVENT: Record<RowOp, string> = { ins: 'INSERT', upd: 'UPDATE', del: 'DELETE' };
const OP_CODE: Record<RowOp, string> = { ins: 'I', upd: 'U', del: 'D' };
const SKIPPED_TYPES = new Set([
  'binary',
  'varbinary',
  'tinyblob',
  'blob',
  'mediumblob',
  'longblob',
  'bit',
  'geometry',
  'point',
  'linestring',
  'polygon',
  'multipoint',
  'multilinestring',
  'multipolygon',
  'geometrycollection',
]);

const q = (ident: string) => `\`${ident.replace(/`/g, '``')}\``;

interface Column {
  name: string;
  type: string;
}

async function rows<T>(knex: Knex, sql: string, bindings: readonly unknown[] = []): Promise<T[]> {
  const [result] = await knex.raw(sql, bindings as Knex.RawBinding[]);
  return result as T[];
}

export async function checkMysqlServer(knex: Knex): Promise<void> {
  const [row] = await rows<{ v: string }>(knex, 'SELECT VERSION() AS v');
  const refusal = captureRefusal(parseMysqlVersion(String(row?.v)));
  if (refusal) throw new Error(refusal);
}

async function columnsOf(knex: Knex, table: CapturedTable): Promise<Column[]> {
  const cols = await rows<{ name: string; type: string }>(
    knex,
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`,
    [table],
  );
  if (cols.length === 0)
    throw new Error(
      `billing table "${table}" not found in this database: trigger capture can't be installed`,
    );
  const captured = new Set(CAPTURED_COLUMNS[table]);
  const found = cols
    .map((c) => ({ name: String(c.name), type: String(c.type).toLowerCase() }))
    .filter((c) => captured.has(c.name) && !SKIPPED_TYPES.has(c.type));
  const missing = CAPTURED_COLUMNS[table].filter((name) => !found.some((c) => c.name === name));
  if (missing.length > 0) {
    throw new Error(
      `billing table "${table}" lacks column(s) ${missing.join(', ')}: trigger capture can't be installed`,
    );
  }
  return found;
}

function image(row: 'OLD' | 'NEW', cols: Column[]): string {
  const parts = cols.map((c) => {
    const value = c.type === 'decimal' ? `CAST(${row}.${q(c.name)} AS CHAR)` : `${row}.${q(c.name)}`;
    return `'${c.name}', ${value}`;
  });
  return `JSON_OBJECT(${parts.join(', ')})`;
}

function triggerBody(n: CaptureNames, table: CapturedTable, op: RowOp, cols: Column[]): string {
  const before = op === 'ins' ? 'NULL' : image('OLD', cols);
  const after = op === 'del' ? 'NULL' : image('NEW', cols);
  const insert = `INSERT INTO ${q(n.changelog)} (table_name, op, row_before, row_after, created_at)
    VALUES ('${table}', '${OP_CODE[op]}', ${before}, ${after}, UTC_TIMESTAMP(6))`;
  if (op !== 'upd') return insert;
  const same = cols.map((c) => `OLD.${q(c.name)} <=> NEW.${q(c.name)}`).join(' AND ');
  return `BEGIN IF NOT (${same}) THEN ${insert}; END IF; END`;
}

async function existingTriggers(knex: Knex, names: string[]): Promise<Set<string>> {
  const found = await rows<{ name: string }>(
    knex,
    `SELECT trigger_name AS name FROM information_schema.triggers
      WHERE trigger_schema = DATABASE() AND trigger_name IN (${names.map(() => '?').join(', ')})`,
    names,
  );
  return new Set(found.map((r) => String(r.name)));
}

/** Creates what is missing; never drops or replaces a trigger. */
export async function installMysql(knex: Knex, n: CaptureNames): Promise<void> {
  await checkMysqlServer(knex);
  await knex.raw(`CREATE TABLE IF NOT EXISTS ${q(n.changelog)} (
    id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
    table_name varchar(64) NOT NULL,
    op char(1) NOT NULL,
    row_before longtext NULL,
    row_after longtext NULL,
    txid bigint unsigned NULL,
    created_at datetime(6) NOT NULL
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
    COMMENT='lbcore-lifestream: row changes of the captured billing tables, waiting to be propagated'`);
  const existing = await existingTriggers(
    knex,
    n.triggers('mysql').map((t) => t.name),
  );
  for (const table of CAPTURED_TABLES) {
    const cols = await columnsOf(knex, table);
    for (const op of ROW_OPS) {
      const name = n.rowTrigger(table, op);
      if (existing.has(name)) continue;
      await knex.raw(
        `CREATE TRIGGER ${q(name)} AFTER ${EVENT[op]} ON ${q(table)} FOR EACH ROW ${triggerBody(n, table, op, cols)}`,
      );
    }
  }
}

export async function removeMysql(knex: Knex, n: CaptureNames): Promise<void> {
  const existing = await existingTriggers(
    knex,
    n.triggers('mysql').map((t) => t.name),
  );
  for (const { name } of n.triggers('mysql')) {
    if (existing.has(name)) await knex.raw(`DROP TRIGGER ${q(name)}`);
  }
  await knex.raw(`DROP TABLE IF EXISTS ${q(n.changelog)}`);
}

/** The capture objects missing from the database (empty = all in place). */
export async function missingMysql(knex: Knex, n: CaptureNames): Promise<string[]> {
  const all = n.triggers('mysql').map((t) => t.name);
  const existing = await existingTriggers(knex, all);
  const table = (await knex.schema.hasTable(n.changelog)) ? [] : [n.changelog];
  return [...table, ...all.filter((name) => !existing.has(name))];
}
