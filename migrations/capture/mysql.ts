// Trigger capture on MySQL/MariaDB, from MySQL 5.6 / MariaDB 10.0 on.
//
// Row triggers (the only kind MySQL has) that write one small typed row per changed key into
// <prefix>changes (columns.ts: the vgroup, or the agreement, card or tariff category the reader
// fans out): no JSON (none before MySQL 5.7.8 / MariaDB 10.2.3), no row images. An UPDATE that
// changes none of the captured columns is skipped (MySQL fires UPDATE triggers for every matched
// row, changed or not); one that moves a row to another key writes the old and the new key.
//
// Slots. Before MySQL 5.7.2 / MariaDB 10.2.3 a table has one trigger per timing and event, and
// LANBilling's own tm_* triggers hold AFTER INSERT/UPDATE/DELETE of vgroups and agreements. There
// each capture trigger takes AFTER where it is free and BEFORE where the vendor holds AFTER (a
// BEFORE trigger's row is undone with the statement if the statement fails, so it never records a
// change that didn't happen); `migrate` refuses, naming the triggers in the way, only when both are
// taken. A BEFORE INSERT doesn't see the AUTO_INCREMENT id yet, so a new vgroup, agreement or card
// inserted without an explicit id is not logged, and needs not be: nothing references it yet, so it
// can't change any account's TV. The services, multitarifs and vgroups rows that do come later are
// captured by their own triggers (a service names its vg_id), and the account they make is read
// whole then.
//
// The binary log. Servers of that era default to binlog_format=STATEMENT, where a statement that
// fires a trigger inserting into an AUTO_INCREMENT column is "unsafe" and writes a warning into the
// server's error log for every billing write. So the change log has no AUTO_INCREMENT: its key is
// (created_at, connection id, a per-session counter in a user variable), all of which a statement-
// based replica replays identically. The reader never uses READ COMMITTED either (InnoDB refuses
// writes in it under STATEMENT binlog): see src/state/changelog.ts.
//
// Triggers run with their DEFINER's rights: the account that ran `migrate`. It must keep INSERT on
// the change log and SELECT + TRIGGER on the captured tables (doctor checks), and must not be
// dropped: every write to a captured table would then fail (README, grants).
//
// DDL isn't transactional here. A trigger is replaced under LOCK TABLES <table> WRITE (drop, then
// create), so the billing's writers wait those milliseconds instead of slipping between the two.
import type { Knex } from 'knex';
import { CAPTURED_COLUMNS, CHANGE_KEYS } from '../../src/capture/columns.js';
import { accountOf } from '../../src/capture/triggers/grants.js';
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
import { captureRefusal, parseMysqlVersion, type ServerVersion, severalTriggersPerSlot } from './version.js';

/** tables whose key is their own AUTO_INCREMENT id: 0 in a BEFORE INSERT trigger */
const SELF_KEYED = new Set<CapturedTable>(['vgroups', 'agreements', 'accounts']);

const q = (ident: string) => `\`${ident.replace(/`/g, '``')}\``;

type Run = <T = Record<string, unknown>>(sql: string, bindings?: readonly unknown[]) => Promise<T[]>;

/** Runs `work` on one connection (LOCK TABLES and session settings need it). */
async function onOneConnection<T>(knex: Knex, work: (run: Run) => Promise<T>): Promise<T> {
  const conn = await knex.client.acquireConnection();
  try {
    const run: Run = async (sql, bindings = []) => {
      const [rows] = await knex.raw(sql, bindings as Knex.RawBinding[]).connection(conn);
      return rows as never;
    };
    return await work(run);
  } finally {
    await knex.client.releaseConnection(conn);
  }
}

async function serverVersion(run: Run): Promise<ServerVersion> {
  const [row] = await run<{ v: string }>('SELECT VERSION() AS v');
  return parseMysqlVersion(String(row?.v));
}

export async function checkMysqlServer(knex: Knex): Promise<ServerVersion> {
  return onOneConnection(knex, async (run) => {
    const v = await serverVersion(run);
    const refusal = captureRefusal(v);
    if (refusal) throw new Error(refusal);
    return v;
  });
}

function changesDdl(n: CaptureNames): string {
  return `CREATE TABLE IF NOT EXISTS ${q(n.changes)} (
    created_at datetime(6) NOT NULL,
    conn_id bigint unsigned NOT NULL,
    seq bigint unsigned NOT NULL,
    table_name varchar(32) NOT NULL,
    op char(1) NOT NULL,
    vg_id int NULL,
    agrm_id int NULL,
    uid int NULL,
    tar_id int NULL,
    serv_cat_idx int NULL,
    PRIMARY KEY (created_at, conn_id, seq)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8
    COMMENT='lbcore-lifestream: keys of billing rows changed and not yet propagated'`;
}

/** The counter that, with the time and the connection, keys a change-log row. */
const counter = (n: CaptureNames) => `@${n.changes}_seq`;

function logRow(n: CaptureNames, table: CapturedTable, op: RowOp, row: 'OLD' | 'NEW'): string {
  const keys = CHANGE_KEYS[table];
  return (
    `SET ${counter(n)} = IFNULL(${counter(n)}, 0) + 1; ` +
    `INSERT INTO ${q(n.changes)} (created_at, conn_id, seq, table_name, op, ${keys.map(q).join(', ')}) ` +
    `VALUES (UTC_TIMESTAMP(6), CONNECTION_ID(), ${counter(n)}, '${table}', '${OP_CODE[op]}', ${keys.map((k) => `${row}.${q(k)}`).join(', ')});`
  );
}

/** The trigger's body: the same whichever slot (BEFORE or AFTER) it takes. */
export function triggerBody(n: CaptureNames, table: CapturedTable, op: RowOp): string {
  const keys = CHANGE_KEYS[table];
  if (op === 'ins') {
    const write = logRow(n, table, op, 'NEW');
    return SELF_KEYED.has(table)
      ? `BEGIN IF NEW.${q(keys[0]!)} <> 0 THEN ${write} END IF; END`
      : `BEGIN ${write} END`;
  }
  if (op === 'del') return `BEGIN ${logRow(n, table, op, 'OLD')} END`;
  const same = CAPTURED_COLUMNS[table].map((c) => `OLD.${q(c)} <=> NEW.${q(c)}`).join(' AND ');
  const keySame = keys.map((k) => `OLD.${q(k)} <=> NEW.${q(k)}`).join(' AND ');
  return (
    `BEGIN IF NOT (${same}) THEN ${logRow(n, table, op, 'OLD')} ` +
    `IF NOT (${keySame}) THEN ${logRow(n, table, op, 'NEW')} END IF; END IF; END`
  );
}

interface LiveTrigger {
  name: string;
  table: string;
  timing: 'BEFORE' | 'AFTER';
  event: string;
  statement: string;
  definer: string;
}

async function triggersOn(run: Run): Promise<LiveTrigger[]> {
  const rows = await run<Record<string, unknown>>(
    `SELECT trigger_name AS name, event_object_table AS tbl, action_timing AS timing,
            event_manipulation AS event, action_statement AS stmt, definer
       FROM information_schema.triggers
      WHERE trigger_schema = DATABASE() AND event_object_table IN (${CAPTURED_TABLES.map(() => '?').join(', ')})`,
    CAPTURED_TABLES,
  );
  return rows.map((r) => ({
    name: String(r.name),
    table: String(r.tbl),
    timing: String(r.timing).toUpperCase() as 'BEFORE' | 'AFTER',
    event: String(r.event).toUpperCase(),
    statement: String(r.stmt),
    definer: String(r.definer),
  }));
}

const fingerprintOf = (t: LiveTrigger) =>
  sha256(`${t.table} ${t.timing} ${t.event} ${t.definer}\n${t.statement}`);

interface WantedTrigger extends WantedObject {
  table: CapturedTable;
  op: RowOp;
  body: string;
}

function wanted(n: CaptureNames): WantedTrigger[] {
  return n.triggers().map(({ table, op, name }) => {
    const body = triggerBody(n, table, op);
    // the slot isn't part of the definition: BEFORE or AFTER depends on what the vendor holds
    return { name, kind: 'trigger', table, op, body, spec: `${table} ${EVENT[op]}\n${body}` };
  });
}

/**
 * The slot (timing) for a capture trigger of (table, event): AFTER where this server allows several
 * triggers per slot or AFTER is free, else BEFORE if free; else the refusal naming what holds them.
 * Pure; `mine` are the capture triggers' own names (a slot they hold is theirs to take again).
 */
export function chooseSlot(
  live: LiveTrigger[],
  table: CapturedTable,
  op: RowOp,
  several: boolean,
  mine: Set<string>,
): { timing: 'BEFORE' | 'AFTER' } | { refusal: string } {
  if (several) return { timing: 'AFTER' };
  const holder = (timing: string) =>
    live.find((t) => t.table === table && t.event === EVENT[op] && t.timing === timing && !mine.has(t.name));
  const after = holder('AFTER');
  if (!after) return { timing: 'AFTER' };
  const before = holder('BEFORE');
  if (!before) return { timing: 'BEFORE' };
  return {
    refusal:
      `no free trigger slot for ${EVENT[op]} on ${table}: AFTER ${EVENT[op]} is held by trigger \`${after.name}\` ` +
      `and BEFORE ${EVENT[op]} by \`${before.name}\`, and this server allows one trigger per table, timing and event ` +
      '(MySQL before 5.7.2, MariaDB before 10.2.3). Upgrade the server, or fold one of those triggers into the other.',
  };
}

/** True when the account a trigger runs as is gone (every write firing it fails with error 1449). */
async function definerGone(run: Run, definer: string): Promise<boolean> {
  const { user, host } = accountOf(definer);
  try {
    await run('SHOW GRANTS FOR ?@?', [user, host]);
    return false;
  } catch (err) {
    // 1141: no such account; anything else (not allowed to look): leave the trigger be
    return (err as { errno?: number }).errno === 1141;
  }
}

/** The slot of each trigger to (re)create; throws the refusal when one has none. */
function chooseSlots(
  live: LiveTrigger[],
  triggers: WantedTrigger[],
  several: boolean,
  n: CaptureNames,
): Map<string, 'BEFORE' | 'AFTER'> {
  const mine = new Set(n.triggers().map((t) => t.name));
  const slots = new Map<string, 'BEFORE' | 'AFTER'>();
  for (const t of triggers) {
    const slot = chooseSlot(live, t.table, t.op, several, mine);
    if ('refusal' in slot) throw new Error(slot.refusal);
    slots.set(t.name, slot.timing);
  }
  return slots;
}

/**
 * Refuses, before `migrate` creates anything, a server that can't carry the triggers: too old, or
 * a (table, event) whose BEFORE and AFTER slots are both held by triggers of others.
 */
export async function precheckMysql(knex: Knex, n: CaptureNames): Promise<void> {
  const v = await checkMysqlServer(knex);
  await onOneConnection(knex, async (run) => {
    chooseSlots(await triggersOn(run), wanted(n), severalTriggersPerSlot(v), n);
  });
}

async function checkBillingTables(run: Run): Promise<void> {
  for (const table of CAPTURED_TABLES) {
    const cols = await run<{ name: string }>(
      'SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?',
      [table],
    );
    if (cols.length === 0)
      throw new Error(
        `billing table "${table}" not found in this database: trigger capture can't be installed`,
      );
    const have = new Set(cols.map((c) => String(c.name)));
    const missing = CAPTURED_COLUMNS[table].filter((c) => !have.has(c));
    if (missing.length > 0)
      throw new Error(
        `billing table "${table}" lacks column(s) ${missing.join(', ')}: trigger capture can't be installed`,
      );
  }
}

async function hasTable(run: Run, name: string): Promise<boolean> {
  const rows = await run(
    'SELECT 1 AS x FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?',
    [name],
  );
  return rows.length > 0;
}

/**
 * The first release's change log (JSON row images, MySQL >= 5.7.8 / MariaDB >= 10.2.3 only) →
 * typed rows, once its triggers are replaced (so nothing writes to it any more). Rows waiting there
 * are not lost by the upgrade.
 */
async function convertV1(run: Run, n: CaptureNames): Promise<void> {
  if (!(await hasTable(run, n.v1.changelog))) return;
  for (const table of CAPTURED_TABLES) {
    const keys = CHANGE_KEYS[table];
    for (const [side, bit] of [
      ['row_before', 0],
      ['row_after', 1],
    ] as const) {
      const values = keys
        .map((k) => `CAST(JSON_UNQUOTE(JSON_EXTRACT(${side}, '$.${k}')) AS SIGNED)`)
        .join(', ');
      // connection 0 never writes a row of its own: these keys can't collide with the triggers'
      await run(
        `INSERT INTO ${q(n.changes)} (created_at, conn_id, seq, table_name, op, ${keys.map(q).join(', ')})
         SELECT created_at, 0, id * 2 + ${bit}, table_name, op, ${values} FROM ${q(n.v1.changelog)}
          WHERE table_name = ? AND ${side} IS NOT NULL`,
        [table],
      );
    }
  }
  await run(`DROP TABLE ${q(n.v1.changelog)}`);
}

/**
 * Creates what is missing and replaces what is altered or outdated; returns the names it created
 * or replaced. Never touches a trigger that is as it was installed.
 */
export async function installMysql(knex: Knex, n: CaptureNames): Promise<string[]> {
  const v = await checkMysqlServer(knex);
  const several = severalTriggersPerSlot(v);
  return onOneConnection(knex, async (run) => {
    // a billing transaction holding a captured table must not make migrate wait (and the billing's
    // writers queue behind migrate) for long: fail, and let the operator run it again
    await run('SET SESSION lock_wait_timeout = 10');
    await checkBillingTables(run);
    await run(changesDdl(n));
    await createObjectsTable(knex, n.objects);
    const all = wanted(n);
    const live = await triggersOn(run);
    const liveByName = new Map(live.map((t) => [t.name, fingerprintOf(t)]));
    const todo = new Set((await problemsMysql(run, knex, n, all, live)).map((p) => p.name));
    // every slot first, so that a refusal leaves the installed triggers as they were
    const slots = chooseSlots(
      live,
      all.filter((t) => todo.has(t.name)),
      several,
      n,
    );
    const done: string[] = [];
    for (const t of all) {
      const timing = slots.get(t.name);
      if (!timing) continue;
      const create = `CREATE TRIGGER ${q(t.name)} ${timing} ${EVENT[t.op]} ON ${q(t.table)} FOR EACH ROW ${t.body}`;
      if (liveByName.has(t.name)) {
        await run(`LOCK TABLES ${q(t.table)} WRITE`);
        try {
          await run(`DROP TRIGGER ${q(t.name)}`);
          await run(create);
        } finally {
          await run('UNLOCK TABLES');
        }
      } else {
        await run(create);
      }
      done.push(t.name);
    }
    const after = new Map((await triggersOn(run)).map((t) => [t.name, fingerprintOf(t)]));
    for (const t of all) if (slots.has(t.name)) await record(knex, n.objects, t, after.get(t.name)!);
    await convertV1(run, n);
    return done;
  });
}

export async function removeMysql(knex: Knex, n: CaptureNames): Promise<void> {
  await onOneConnection(knex, async (run) => {
    const ours = new Set(n.triggers().map((t) => t.name));
    for (const t of await triggersOn(run)) if (ours.has(t.name)) await run(`DROP TRIGGER ${q(t.name)}`);
    for (const table of [n.changes, n.objects, n.v1.changelog]) await run(`DROP TABLE IF EXISTS ${q(table)}`);
  });
}

/** The capture triggers as the server has them now: timing and definer, for doctor. */
export async function captureTriggersMysql(knex: Knex, n: CaptureNames): Promise<LiveTrigger[]> {
  const ours = new Set(n.triggers().map((t) => t.name));
  return onOneConnection(knex, async (run) => (await triggersOn(run)).filter((t) => ours.has(t.name)));
}

/**
 * Missing, altered and outdated triggers, and those whose definer is gone (a trigger whose account
 * was dropped makes every billing write that fires it fail: it must be re-created).
 */
async function problemsMysql(
  run: Run,
  knex: Knex,
  n: CaptureNames,
  all: WantedTrigger[],
  live: LiveTrigger[],
): Promise<ObjectProblem[]> {
  const problems = problemsOf(
    all,
    new Map(live.map((t) => [t.name, fingerprintOf(t)])),
    await readRecorded(knex, n.objects),
  );
  for (const t of live) {
    const w = all.find((x) => x.name === t.name);
    if (!w || problems.some((p) => p.name === t.name)) continue;
    if (await definerGone(run, t.definer))
      problems.push({ name: t.name, kind: 'trigger', table: w.table, problem: 'definer-gone' });
  }
  return problems;
}

/** What keeps capture from working as installed (empty = all in place and intact). */
export async function inspectMysql(
  knex: Knex,
  n: CaptureNames,
): Promise<{ tableMissing: boolean; problems: ObjectProblem[] }> {
  return onOneConnection(knex, async (run) => ({
    tableMissing: !(await hasTable(run, n.changes)),
    problems: await problemsMysql(run, knex, n, wanted(n), await triggersOn(run)),
  }));
}
