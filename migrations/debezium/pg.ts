// Debezium capture on PostgreSQL: what the connector needs in the billing database.
//
// - The heartbeat table `<prefix>heartbeat`: Debezium writes one row to it every
//   heartbeat.interval.ms (`heartbeat.action.query`). On a quiet billing that write is the change
//   that lets the replication slot advance; without it the slot pins WAL for ever.
// - `REPLICA IDENTITY FULL` on each captured table, so that updates and deletes carry the whole old
//   row (`before`), not just its key: the translator needs the old vg_id of a row moved between
//   accounts and the old columns of a fan-out row. This changes how PostgreSQL logs the billing's
//   tables (roughly doubling the WAL of an update), not their structure; the replica identity each
//   table had before is kept in `<prefix>replica_identity` and restored by `migrate --uninstall`.
// - The publication `<prefix>pub` over the captured tables and the heartbeat table. The connector
//   runs with `publication.autocreate.mode=disabled`: it never creates or alters it.
// - `<prefix>capture_errors` (errors-table.ts).
//
// The replication slot is created by the connector itself; uninstall drops every slot of this
// database whose name starts with the prefix (after `migrate --uninstall` deleted the connector,
// which would otherwise create it again).
//
// Creating a publication for a table and changing its replica identity need the table's owner.
// When the service's user isn't, installation stops with the SQL a DBA can run instead.
import type { Knex } from 'knex';
import { CAPTURED_TABLES } from '../../src/capture/types.js';
import { createCaptureErrorsTable } from './errors-table.js';
import type { DebeziumNames } from './names.js';

const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

async function rows<T>(knex: Knex, sql: string, bindings: readonly unknown[] = []): Promise<T[]> {
  const r = await knex.raw(sql, bindings as Knex.RawBinding[]);
  return r.rows as T[];
}

async function currentSchema(knex: Knex): Promise<string> {
  const [r] = await rows<{ s: string }>(knex, 'SELECT current_schema() AS s');
  return String(r?.s);
}

/** Refuses, with what to change, a server Debezium can't stream from. */
export async function checkPgForDebezium(knex: Knex): Promise<void> {
  const [wal] = await rows<{ wal_level: string }>(knex, 'SHOW wal_level');
  const [slots] = await rows<{ max_replication_slots: string }>(knex, 'SHOW max_replication_slots');
  const problems: string[] = [];
  if (wal?.wal_level !== 'logical')
    problems.push(
      `wal_level is "${wal?.wal_level}", needs "logical" (postgresql.conf: wal_level = logical, then restart the server)`,
    );
  if (Number(slots?.max_replication_slots) < 1)
    problems.push('max_replication_slots is 0: Debezium needs a replication slot');
  if (problems.length)
    throw new Error(`PostgreSQL is not ready for Debezium capture: ${problems.join('; ')}`);
}

/** Each captured table's replica identity: d(efault), n(othing), f(ull) or i(ndex), with the index. */
async function replicaIdentities(
  knex: Knex,
  schema: string,
): Promise<Map<string, { identity: string; index: string | null }>> {
  const list = await rows<{ table: string; identity: string; index: string | null }>(
    knex,
    `SELECT c.relname AS "table", c.relreplident AS identity,
            (SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
              WHERE x.indrelid = c.oid AND x.indisreplident) AS "index"
       FROM pg_class c WHERE c.relnamespace = ?::regnamespace AND c.relkind IN ('r', 'p') AND c.relname = ANY(?)`,
    [schema, [...CAPTURED_TABLES]],
  );
  return new Map(list.map((r) => [r.table, { identity: r.identity, index: r.index }]));
}

async function publishedTables(knex: Knex, publication: string): Promise<Set<string> | null> {
  const exists = await rows(knex, 'SELECT 1 FROM pg_publication WHERE pubname = ?', [publication]);
  if (exists.length === 0) return null;
  const list = await rows<{ t: string }>(
    knex,
    'SELECT tablename AS t FROM pg_publication_tables WHERE pubname = ? AND schemaname = current_schema()',
    [publication],
  );
  return new Set(list.map((r) => r.t));
}

/** What installPg would do, as SQL an operator can read (and a DBA run when the service may not). */
export function pgInstallSql(n: DebeziumNames, schema: string): string[] {
  const t = (name: string) => `${q(schema)}.${q(name)}`;
  return [
    `CREATE TABLE IF NOT EXISTS ${t(n.heartbeat)} (id int PRIMARY KEY, ts timestamptz NOT NULL);`,
    ...CAPTURED_TABLES.map((table) => `ALTER TABLE ${t(table)} REPLICA IDENTITY FULL;`),
    `CREATE PUBLICATION ${q(n.publication)} FOR TABLE ${[...CAPTURED_TABLES, n.heartbeat].map(t).join(', ')};`,
  ];
}

/** Creates what is missing; idempotent. Run it in a transaction: PostgreSQL DDL is all or nothing. */
export async function installPg(knex: Knex, n: DebeziumNames): Promise<void> {
  await checkPgForDebezium(knex);
  const schema = await currentSchema(knex);
  const identities = await replicaIdentities(knex, schema);
  const absent = CAPTURED_TABLES.filter((table) => !identities.has(table));
  if (absent.length) {
    throw new Error(
      `billing table(s) ${absent.map((a) => `"${a}"`).join(', ')} not found in schema "${schema}": Debezium capture can't be installed`,
    );
  }
  const t = (name: string) => `${q(schema)}.${q(name)}`;
  try {
    await knex.raw(
      `CREATE TABLE IF NOT EXISTS ${t(n.heartbeat)} (id int PRIMARY KEY, ts timestamptz NOT NULL)`,
    );
    await knex.raw(
      `COMMENT ON TABLE ${t(n.heartbeat)} IS 'lbcore-lifestream: Debezium heartbeat, keeps the replication slot moving (remove with: lbcore-lifestream migrate --uninstall)'`,
    );
    await knex.raw(`CREATE TABLE IF NOT EXISTS ${t(n.replicaIdentity)} (
      table_name text PRIMARY KEY, identity char(1) NOT NULL, index_name text)`);
    await knex.raw(
      `COMMENT ON TABLE ${t(n.replicaIdentity)} IS 'lbcore-lifestream: replica identity of the billing tables before migrate set FULL; restored by migrate --uninstall'`,
    );
    for (const table of CAPTURED_TABLES) {
      const was = identities.get(table)!;
      // the first install remembers the original; a repeated one must not record our own FULL
      await knex.raw(
        `INSERT INTO ${t(n.replicaIdentity)} (table_name, identity, index_name) VALUES (?, ?, ?) ON CONFLICT (table_name) DO NOTHING`,
        [table, was.identity, was.index],
      );
      if (was.identity !== 'f') await knex.raw(`ALTER TABLE ${t(table)} REPLICA IDENTITY FULL`);
    }
    const wanted = [...CAPTURED_TABLES, n.heartbeat];
    const published = await publishedTables(knex, n.publication);
    if (published === null) {
      await knex.raw(`CREATE PUBLICATION ${q(n.publication)} FOR TABLE ${wanted.map(t).join(', ')}`);
    } else {
      const missing = wanted.filter((name) => !published.has(name));
      if (missing.length)
        await knex.raw(`ALTER PUBLICATION ${q(n.publication)} ADD TABLE ${missing.map(t).join(', ')}`);
    }
    await createCaptureErrorsTable(knex, n.captureErrors);
  } catch (err) {
    if ((err as { code?: string }).code === '42501') {
      throw new Error(
        `${(err as Error).message}: the service's database user may not change the billing tables' replica identity or publish them. ` +
          `Have their owner run, then run migrate again:\n  ${pgInstallSql(n, schema).join('\n  ')}`,
      );
    }
    throw err;
  }
}

/** The objects that should exist in debezium mode but don't (empty = all in place). */
export async function missingPg(knex: Knex, n: DebeziumNames): Promise<string[]> {
  const schema = await currentSchema(knex);
  const missing: string[] = [];
  for (const table of [n.heartbeat, n.replicaIdentity, n.captureErrors]) {
    if (!(await knex.schema.hasTable(table))) missing.push(table);
  }
  const published = await publishedTables(knex, n.publication);
  if (published === null) missing.push(`publication ${n.publication}`);
  else
    for (const table of [...CAPTURED_TABLES, n.heartbeat])
      if (!published.has(table)) missing.push(`${table} in publication ${n.publication}`);
  for (const [table, { identity }] of await replicaIdentities(knex, schema)) {
    if (identity !== 'f') missing.push(`REPLICA IDENTITY FULL on ${table}`);
  }
  return missing;
}

/** The service's replication slots in this database (the connector creates them). */
export async function ownSlots(
  knex: Knex,
  n: DebeziumNames,
): Promise<{ name: string; activePid: number | null }[]> {
  const list = await rows<{ slot_name: string; active_pid: number | null }>(
    knex,
    'SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = current_database() AND left(slot_name, length(?)) = ?',
    [n.slotPrefix, n.slotPrefix],
  );
  return list.map((r) => ({ name: r.slot_name, activePid: r.active_pid }));
}

/** Drops a slot, ending the walsender still holding it (a connector deleted a moment ago). */
export async function dropSlot(knex: Knex, name: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const [slot] = await rows<{ active_pid: number | null }>(
      knex,
      'SELECT active_pid FROM pg_replication_slots WHERE slot_name = ?',
      [name],
    );
    if (!slot) return;
    if (slot.active_pid) await knex.raw('SELECT pg_terminate_backend(?)', [slot.active_pid]);
    try {
      await knex.raw('SELECT pg_drop_replication_slot(?)', [name]);
      return;
    } catch (err) {
      if (Date.now() > end)
        throw new Error(`cannot drop replication slot ${name}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Removes everything installPg added and restores the replica identities it changed. */
export async function removePg(knex: Knex, n: DebeziumNames): Promise<void> {
  for (const slot of await ownSlots(knex, n)) await dropSlot(knex, slot.name);
  const schema = await currentSchema(knex);
  const t = (name: string) => `${q(schema)}.${q(name)}`;
  await knex.raw(`DROP PUBLICATION IF EXISTS ${q(n.publication)}`);
  if (await knex.schema.hasTable(n.replicaIdentity)) {
    const originals = await rows<{ table_name: string; identity: string; index_name: string | null }>(
      knex,
      `SELECT * FROM ${t(n.replicaIdentity)}`,
    );
    const now = await replicaIdentities(knex, schema);
    for (const o of originals) {
      if (!now.has(o.table_name) || o.identity === 'f') continue;
      const clause =
        o.identity === 'n'
          ? 'NOTHING'
          : o.identity === 'i' && o.index_name
            ? `USING INDEX ${q(o.index_name)}`
            : 'DEFAULT';
      await knex.raw(`ALTER TABLE ${t(o.table_name)} REPLICA IDENTITY ${clause}`);
    }
  }
  await knex.raw(`DROP TABLE IF EXISTS ${t(n.replicaIdentity)}`);
  await knex.raw(`DROP TABLE IF EXISTS ${t(n.heartbeat)}`);
  await knex.raw(`DROP TABLE IF EXISTS ${t(n.captureErrors)}`);
}

/**
 * How much WAL a replication slot holds back (bytes from the server's current position to the
 * slot's restart_lsn) and its wal_status ('lost' = the server removed WAL it still needed, under
 * max_slot_wal_keep_size). Null when there is no such slot.
 */
export async function slotRetention(
  knex: Knex,
  slot: string,
): Promise<{ slot: string; retainedBytes: number | null; walStatus: string | null } | null> {
  const [r] = await rows<{ retained: string | null; wal_status: string | null }>(
    knex,
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained, wal_status
       FROM pg_replication_slots WHERE slot_name = ?`,
    [slot],
  );
  if (!r) return null;
  return { slot, retainedBytes: r.retained === null ? null : Number(r.retained), walStatus: r.wal_status };
}
