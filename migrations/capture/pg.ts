// Trigger capture on PostgreSQL.
//
// Statement level, with transition tables: after each INSERT, UPDATE or DELETE statement on a
// captured table, one INSERT … SELECT writes the distinct keys the statement touched into
// <prefix>changes (columns.ts: the vgroup, or the agreement, card or tariff category the reader
// fans out). A charging run that updates 5,000 agreements writes its change log in one statement
// instead of 5,000 trigger calls. An UPDATE pairs its old and new rows by the table's primary key
// and keeps only the pairs whose captured columns differ (the WHEN clause of a row trigger, for a
// whole statement), and writes the old key and the new key (one row when they are equal); a row
// whose primary key itself changed has no partner and counts on both sides. (Transition tables
// can't be combined with UPDATE OF a column list, so every UPDATE statement calls the function;
// one that touches no captured column writes nothing.)
//
// No NOTIFY: PostgreSQL takes a global lock for NOTIFY at commit, which serialises the billing's
// own commits (-34 % single-row throughput measured with 4 clients). The reader polls the change
// log instead (src/capture/triggers/reader.ts), tightly while changes come, gently when quiet.
//
// The billing's own role needs nothing: the functions are SECURITY DEFINER, owned by the role that
// ran `migrate`, with a fixed search_path (pg_catalog first) and every name schema-qualified, so a
// writer's search_path can't redirect them and the billing's role needs no grant on the change log.
//
// Installing runs in one transaction (PostgreSQL DDL is transactional): triggers are replaced, and a
// change log of the first release (JSON row images) is converted, atomically with the billing's
// writes: no change falls between an old trigger and a new one.
import type { Knex } from 'knex';
import { CAPTURED_COLUMNS, CHANGE_KEYS, PRIMARY_KEYS } from '../../src/capture/columns.js';
import { CAPTURED_TABLES, type CapturedTable } from '../../src/capture/types.js';
import { type CaptureNames, EVENT, OP_CODE, type RowOp } from './names.js';
import {
  createObjectsTable,
  type ObjectProblem,
  problemsOf,
  readRecorded,
  record,
  sha256,
  type WantedObject,
} from './objects.js';
import { captureRefusal, parsePgVersionNum } from './version.js';

const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

async function currentSchema(knex: Knex): Promise<string> {
  const r = await knex.raw('SELECT current_schema() AS s');
  return String(r.rows[0].s);
}

export async function checkPgServer(knex: Knex): Promise<void> {
  const r = await knex.raw('SHOW server_version_num');
  const refusal = captureRefusal(parsePgVersionNum(String(r.rows[0].server_version_num)));
  if (refusal) throw new Error(refusal);
}

function changesDdl(schema: string, n: CaptureNames): string {
  return `CREATE TABLE IF NOT EXISTS ${q(schema)}.${q(n.changes)} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name text NOT NULL,
    op char(1) NOT NULL,
    vg_id integer,
    agrm_id integer,
    uid integer,
    tar_id integer,
    serv_cat_idx integer,
    created_at timestamptz NOT NULL DEFAULT now()
  )`;
}

/** The INSERT … SELECT of one operation's keys, from the transition tables old_rows / new_rows. */
function keysInsert(schema: string, n: CaptureNames, table: CapturedTable, op: RowOp): string {
  const keys = CHANGE_KEYS[table];
  const into = `INSERT INTO ${q(schema)}.${q(n.changes)} (table_name, op, ${keys.map(q).join(', ')})`;
  const head = `SELECT DISTINCT '${table}', '${OP_CODE[op]}'`;
  const notNull = (alias: string) => keys.map((k) => `${alias}.${q(k)} IS NOT NULL`).join(' AND ');
  if (op !== 'upd') {
    const alias = op === 'ins' ? 'n' : 'o';
    const from = op === 'ins' ? 'new_rows' : 'old_rows';
    return `${into} ${head}, ${keys.map((k) => `${alias}.${q(k)}`).join(', ')} FROM ${from} ${alias} WHERE ${notNull(alias)}`;
  }
  const pk = PRIMARY_KEYS[table];
  const on = pk.map((c) => `n.${q(c)} = o.${q(c)}`).join(' AND ');
  const cols = CAPTURED_COLUMNS[table];
  const changed = `(${cols.map((c) => `o.${q(c)}`).join(', ')}) IS DISTINCT FROM (${cols.map((c) => `n.${q(c)}`).join(', ')})`;
  const unpaired = `o.${q(pk[0]!)} IS NULL OR n.${q(pk[0]!)} IS NULL`;
  const sides = `(VALUES (${keys.map((k) => `o.${q(k)}`).join(', ')}), (${keys.map((k) => `n.${q(k)}`).join(', ')})) AS k(${keys.map(q).join(', ')})`;
  return (
    `${into} ${head}, ${keys.map((k) => `k.${q(k)}`).join(', ')} ` +
    `FROM old_rows o FULL JOIN new_rows n ON ${on} CROSS JOIN LATERAL ${sides} ` +
    `WHERE ${notNull('k')} AND (${unpaired} OR ${changed})`
  );
}

function functionDdl(schema: string, n: CaptureNames, table: CapturedTable): string {
  return `CREATE OR REPLACE FUNCTION ${q(schema)}.${q(n.captureFunction(table))}() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, ${q(schema)} AS $fn$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        ${keysInsert(schema, n, table, 'ins')};
      ELSIF TG_OP = 'UPDATE' THEN
        ${keysInsert(schema, n, table, 'upd')};
      ELSE
        ${keysInsert(schema, n, table, 'del')};
      END IF;
      RETURN NULL;
    END
    $fn$`;
}

function triggerDdl(schema: string, n: CaptureNames, table: CapturedTable, op: RowOp): string {
  const referencing = {
    ins: 'NEW TABLE AS new_rows',
    upd: 'OLD TABLE AS old_rows NEW TABLE AS new_rows',
    del: 'OLD TABLE AS old_rows',
  }[op];
  return (
    `CREATE TRIGGER ${q(n.trigger(table, op))} AFTER ${EVENT[op]} ON ${q(schema)}.${q(table)} ` +
    `REFERENCING ${referencing} FOR EACH STATEMENT EXECUTE FUNCTION ${q(schema)}.${q(n.captureFunction(table))}()`
  );
}

function wanted(schema: string, n: CaptureNames): (WantedObject & { create: string })[] {
  return CAPTURED_TABLES.flatMap((table) => {
    const fn = functionDdl(schema, n, table);
    return [
      { name: n.captureFunction(table), kind: 'function' as const, table: null, spec: fn, create: fn },
      ...n
        .triggers()
        .filter((t) => t.table === table)
        .map((t) => {
          const ddl = triggerDdl(schema, n, table, t.op);
          // a trigger's spec includes its function's: a changed function means a re-created trigger
          return { name: t.name, kind: 'trigger' as const, table, spec: `${ddl}\n${fn}`, create: ddl };
        }),
    ];
  });
}

/** The server's definition of each capture object present, hashed (name → fingerprint). */
async function liveFingerprints(knex: Knex, n: CaptureNames): Promise<Map<string, string>> {
  const triggers = await knex.raw(
    `SELECT t.tgname AS name, pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text AS def
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal AND t.tgname = ANY(?)`,
    [n.triggers().map((t) => t.name)],
  );
  const functions = await knex.raw(
    `SELECT p.proname AS name, pg_get_functiondef(p.oid) || ' owner=' || pg_get_userbyid(p.proowner) AS def
       FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace AND p.proname = ANY(?)`,
    [CAPTURED_TABLES.map((t) => n.captureFunction(t))],
  );
  const out = new Map<string, string>();
  for (const r of [...triggers.rows, ...functions.rows] as { name: string; def: string }[])
    out.set(r.name, sha256(r.def));
  return out;
}

async function hasTable(knex: Knex, name: string): Promise<boolean> {
  const r = await knex.raw('SELECT to_regclass(?) AS t', [q(name)]);
  return r.rows[0].t !== null;
}

async function checkBillingTables(knex: Knex, schema: string): Promise<void> {
  for (const table of CAPTURED_TABLES) {
    const c = await knex.raw(
      'SELECT column_name AS name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?',
      [schema, table],
    );
    if (c.rows.length === 0)
      throw new Error(
        `billing table "${table}" not found in schema "${schema}": trigger capture can't be installed`,
      );
    const have = new Set(c.rows.map((x: { name: string }) => x.name));
    const missing = CAPTURED_COLUMNS[table].filter((name) => !have.has(name));
    if (missing.length > 0)
      throw new Error(
        `billing table "${table}" lacks column(s) ${missing.join(', ')}: trigger capture can't be installed`,
      );
  }
}

/**
 * The first release's change log (row images as jsonb) → typed rows: the key of each image, as its
 * triggers would have written them. Rows waiting there are not lost by the upgrade.
 */
async function convertV1(knex: Knex, schema: string, n: CaptureNames): Promise<void> {
  if (!(await hasTable(knex, n.v1.changelog))) return;
  const old = `${q(schema)}.${q(n.v1.changelog)}`;
  for (const table of CAPTURED_TABLES) {
    const keys = CHANGE_KEYS[table];
    for (const side of ['row_before', 'row_after']) {
      const values = keys.map((k) => `(${side}->>'${k}')::integer`).join(', ');
      await knex.raw(
        `INSERT INTO ${q(schema)}.${q(n.changes)} (table_name, op, ${keys.map(q).join(', ')}, created_at)
         SELECT table_name, op, ${values}, created_at FROM ${old}
          WHERE table_name = ? AND ${side} IS NOT NULL ORDER BY id`,
        [table],
      );
    }
  }
  await knex.raw(`DROP TABLE ${old}`);
}

async function dropV1(knex: Knex, schema: string, n: CaptureNames): Promise<void> {
  for (const table of CAPTURED_TABLES) {
    await knex.raw(`DROP TRIGGER IF EXISTS ${q(n.v1.notifyTrigger(table))} ON ${q(schema)}.${q(table)}`);
  }
  await knex.raw(`DROP FUNCTION IF EXISTS ${q(schema)}.${q(n.v1.captureFunction)}()`);
  await knex.raw(`DROP FUNCTION IF EXISTS ${q(schema)}.${q(n.v1.notifyFunction)}()`);
}

/**
 * Creates what is missing and replaces what is altered or outdated, in one transaction; returns
 * the names it created or replaced. Never touches an object that is as it was installed.
 */
export async function installPg(knex: Knex, n: CaptureNames): Promise<string[]> {
  await checkPgServer(knex);
  return knex.transaction(async (trx) => {
    // a billing transaction holding a captured table must not make migrate wait (and the billing's
    // writers queue behind migrate) for long: fail, and let the operator run it again
    await trx.raw("SET LOCAL lock_timeout = '10s'");
    const schema = await currentSchema(trx);
    await checkBillingTables(trx, schema);
    await trx.raw(changesDdl(schema, n));
    await trx.raw(
      `COMMENT ON TABLE ${q(schema)}.${q(n.changes)} IS 'lbcore-lifestream: keys of billing rows changed and not yet propagated (remove with: lbcore-lifestream migrate --uninstall)'`,
    );
    await createObjectsTable(trx, n.objects);
    const all = wanted(schema, n);
    const recorded = await readRecorded(trx, n.objects);
    const live = await liveFingerprints(trx, n);
    const todo = new Set(problemsOf(all, live, recorded).map((p) => p.name));
    // a replaced function must take its triggers with it (their spec includes the function's)
    const done: string[] = [];
    for (const o of all) {
      if (!todo.has(o.name)) continue;
      if (o.kind === 'trigger') {
        await trx.raw(`DROP TRIGGER IF EXISTS ${q(o.name)} ON ${q(schema)}.${q(o.table!)}`);
      }
      await trx.raw(o.create);
      done.push(o.name);
    }
    const after = await liveFingerprints(trx, n);
    for (const o of all) if (todo.has(o.name)) await record(trx, n.objects, o, after.get(o.name)!);
    await dropV1(trx, schema, n);
    await convertV1(trx, schema, n);
    return done;
  });
}

/** Drops the triggers, functions and tables this service added (either release's), whatever mode is configured now. */
export async function removePg(knex: Knex, n: CaptureNames): Promise<void> {
  const schema = await currentSchema(knex);
  for (const { table, name } of n.triggers()) {
    await knex.raw(`DROP TRIGGER IF EXISTS ${q(name)} ON ${q(schema)}.${q(table)}`);
  }
  await dropV1(knex, schema, n);
  for (const table of CAPTURED_TABLES)
    await knex.raw(`DROP FUNCTION IF EXISTS ${q(schema)}.${q(n.captureFunction(table))}()`);
  for (const t of [n.changes, n.objects, n.v1.changelog])
    await knex.raw(`DROP TABLE IF EXISTS ${q(schema)}.${q(t)}`);
}

/** What keeps capture from working as installed (empty = all in place and intact). */
export async function inspectPg(
  knex: Knex,
  n: CaptureNames,
): Promise<{ tableMissing: boolean; problems: ObjectProblem[] }> {
  const schema = await currentSchema(knex);
  const tableMissing = !(await hasTable(knex, n.changes));
  const problems = problemsOf(
    wanted(schema, n),
    await liveFingerprints(knex, n),
    await readRecorded(knex, n.objects),
  );
  return { tableMissing, problems };
}
