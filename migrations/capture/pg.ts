// Trigger capture on PostgreSQL.
//
// Row level for the images: every captured row change writes `to_jsonb(OLD)` / `to_jsonb(NEW)`
// into the change log in the writer's own transaction, so the log commits or rolls back with the
// change. Row level rather than statement level with transition tables, because an UPDATE's old and
// new transition tables would have to be joined by each table's key (service_categories has a
// composite one, an operator's replica may have none), and the billing writes row by row anyway.
// An UPDATE that changes none of the captured columns (src/capture/columns.ts: what the service
// reads) is skipped in the trigger's WHEN clause, before the function is even called. The images
// themselves are whole rows: to_jsonb is cheap here, and an operator reading the log sees it all.
//
// Statement level for the wake-up: after each statement on a captured table, one
// `pg_notify('<prefix>changes', '')`. PostgreSQL delivers a notification only on commit and folds
// identical ones (same channel, same payload) of one transaction into one, so a transaction gets
// exactly one NOTIFY however many statements and rows it has (test/capture/triggers.test.ts checks
// it). NOTIFY takes a global lock at commit; one per transaction keeps that cost bounded.
//
// Everything is created in the schema the migration runs in, and the function names the change-log
// table with that schema, so writers with another search_path still hit it.
import type { Knex } from 'knex';
import { CAPTURED_COLUMNS } from '../../src/capture/columns.js';
import { CAPTURED_TABLES } from '../../src/capture/types.js';
import { type CaptureNames, ROW_OPS, type RowOp } from './names.js';
import { captureRefusal, parsePgVersionNum } from './version.js';

const EVENT: Record<RowOp, string> = { ins: 'INSERT', upd: 'UPDATE', del: 'DELETE' };

const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

async function currentSchema(knex: Knex): Promise<string> {
  const r = await knex.raw('SELECT current_schema() AS s');
  return String(r.rows[0].s);
}

async function existingTriggers(knex: Knex, names: string[]): Promise<Set<string>> {
  const r = await knex.raw(
    `SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE c.relnamespace = current_schema()::regnamespace AND t.tgname = ANY(?)`,
    [names],
  );
  return new Set(r.rows.map((x: { tgname: string }) => x.tgname));
}

export async function checkPgServer(knex: Knex): Promise<void> {
  const r = await knex.raw('SHOW server_version_num');
  const refusal = captureRefusal(parsePgVersionNum(String(r.rows[0].server_version_num)));
  if (refusal) throw new Error(refusal);
}

/** Creates what is missing; never drops or replaces a trigger (functions are replaced in place). */
export async function installPg(knex: Knex, n: CaptureNames): Promise<void> {
  await checkPgServer(knex);
  const schema = await currentSchema(knex);
  for (const table of CAPTURED_TABLES) {
    const r = await knex.raw('SELECT to_regclass(?) AS t', [`${q(schema)}.${q(table)}`]);
    if (r.rows[0].t === null) {
      throw new Error(
        `billing table "${table}" not found in schema "${schema}": trigger capture can't be installed`,
      );
    }
    const c = await knex.raw(
      'SELECT column_name AS name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?',
      [schema, table],
    );
    const have = new Set(c.rows.map((x: { name: string }) => x.name));
    const missing = CAPTURED_COLUMNS[table].filter((name) => !have.has(name));
    if (missing.length > 0) {
      throw new Error(
        `billing table "${table}" lacks column(s) ${missing.join(', ')}: trigger capture can't be installed`,
      );
    }
  }
  const log = `${q(schema)}.${q(n.changelog)}`;
  await knex.raw(`CREATE TABLE IF NOT EXISTS ${log} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name text NOT NULL,
    op char(1) NOT NULL,
    row_before jsonb,
    row_after jsonb,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at timestamptz NOT NULL DEFAULT now()
  )`);
  await knex.raw(
    `COMMENT ON TABLE ${log} IS 'lbcore-lifestream: row changes of the captured billing tables, waiting to be propagated (remove with: lbcore-lifestream migrate --uninstall)'`,
  );
  await knex.raw(`CREATE OR REPLACE FUNCTION ${q(schema)}.${q(n.captureFunction)}() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO ${log} (table_name, op, row_before, row_after)
      VALUES (
        TG_TABLE_NAME,
        left(TG_OP, 1),
        CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END
      );
      RETURN NULL;
    END
    $fn$`);
  await knex.raw(`CREATE OR REPLACE FUNCTION ${q(schema)}.${q(n.notifyFunction)}() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM pg_notify('${n.channel}', '');
      RETURN NULL;
    END
    $fn$`);

  const existing = await existingTriggers(
    knex,
    n.triggers('pg').map((t) => t.name),
  );
  for (const table of CAPTURED_TABLES) {
    const target = `${q(schema)}.${q(table)}`;
    for (const op of ROW_OPS) {
      const name = n.rowTrigger(table, op);
      if (existing.has(name)) continue;
      const cols = CAPTURED_COLUMNS[table].map(q);
      const when =
        op === 'upd'
          ? `WHEN ((${cols.map((c) => `OLD.${c}`).join(', ')}) IS DISTINCT FROM (${cols.map((c) => `NEW.${c}`).join(', ')}))`
          : '';
      await knex.raw(
        `CREATE TRIGGER ${q(name)} AFTER ${EVENT[op]} ON ${target} FOR EACH ROW ${when} EXECUTE FUNCTION ${q(schema)}.${q(n.captureFunction)}()`,
      );
    }
    const notify = n.notifyTrigger(table);
    if (!existing.has(notify)) {
      await knex.raw(
        // UPDATE OF: a statement that sets none of the captured columns wakes no one
        `CREATE TRIGGER ${q(notify)} AFTER INSERT OR UPDATE OF ${CAPTURED_COLUMNS[table].map(q).join(', ')} OR DELETE ON ${target} FOR EACH STATEMENT EXECUTE FUNCTION ${q(schema)}.${q(n.notifyFunction)}()`,
      );
    }
  }
}

/** Drops the triggers, functions and change log this service added, whatever mode is configured now. */
export async function removePg(knex: Knex, n: CaptureNames): Promise<void> {
  const schema = await currentSchema(knex);
  const existing = await existingTriggers(
    knex,
    n.triggers('pg').map((t) => t.name),
  );
  for (const { table, name } of n.triggers('pg')) {
    if (existing.has(name)) await knex.raw(`DROP TRIGGER ${q(name)} ON ${q(schema)}.${q(table)}`);
  }
  await knex.raw(`DROP FUNCTION IF EXISTS ${q(schema)}.${q(n.captureFunction)}()`);
  await knex.raw(`DROP FUNCTION IF EXISTS ${q(schema)}.${q(n.notifyFunction)}()`);
  await knex.raw(`DROP TABLE IF EXISTS ${q(schema)}.${q(n.changelog)}`);
}

/** The capture objects missing from the database (empty = all in place). */
export async function missingPg(knex: Knex, n: CaptureNames): Promise<string[]> {
  const all = n.triggers('pg').map((t) => t.name);
  const existing = await existingTriggers(knex, all);
  const r = await knex.raw('SELECT to_regclass(?) AS t', [q(n.changelog)]);
  const table = r.rows[0].t === null ? [n.changelog] : [];
  return [...table, ...all.filter((name) => !existing.has(name))];
}
