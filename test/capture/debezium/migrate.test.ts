// `migrate` in debezium mode on the real servers (no Kafka needed): what it creates on PostgreSQL
// (heartbeat table, publication, REPLICA IDENTITY FULL remembered and restored), the binlog check on
// MySQL/MariaDB, top-up after an object was dropped or the mode switched, and an uninstall that
// leaves nothing of ours, including a replication slot the connector made.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { debeziumNames, missingDebeziumObjects } from '../../../migrations/debezium/index.js';
import { binlogProblems } from '../../../migrations/debezium/mysql.js';
import type { MigrationContext } from '../../../migrations/index.js';
import { migrateDown, migrateUp } from '../../../src/state/migrate.js';
import { createLanbillingSchema } from '../../fixture/lanbilling-schema.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

const CAPTURED = ['accounts', 'agreements', 'multitarifs', 'service_categories', 'services', 'vgroups'];
const n = debeziumNames('lifestream_');

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

async function billing(dialect: 'pg' | 'mysql'): Promise<TestDatabase> {
  db = await createTestDatabase(dialect, 'dbzmig');
  await createLanbillingSchema(db.knex, dialect);
  return db;
}

describe('debezium capture objects on PostgreSQL', () => {
  const ctx: MigrationContext = { dialect: 'pg', prefix: 'lifestream_', captureMode: 'debezium' };

  const identities = async (d: TestDatabase) => {
    const r = await d.knex.raw(
      'SELECT relname, relreplident FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname = ANY(?) ORDER BY relname',
      [CAPTURED],
    );
    return Object.fromEntries(
      r.rows.map((x: { relname: string; relreplident: string }) => [x.relname, x.relreplident]),
    );
  };
  const published = async (d: TestDatabase) => {
    const r = await d.knex.raw(
      'SELECT tablename FROM pg_publication_tables WHERE pubname = ? ORDER BY tablename',
      [n.publication],
    );
    return r.rows.map((x: { tablename: string }) => x.tablename);
  };

  it('creates the heartbeat table and publication, sets FULL replica identity, and is idempotent', async () => {
    const d = await billing('pg');
    // an operator's own choice on one table, to be given back on uninstall
    await d.knex.raw('ALTER TABLE agreements REPLICA IDENTITY NOTHING');
    const applied = await migrateUp(d.knex, ctx);
    expect(applied).toContain('005_debezium_capture');
    expect(await published(d)).toEqual([...CAPTURED, n.heartbeat].sort());
    expect(Object.values(await identities(d))).toEqual(CAPTURED.map(() => 'f'));
    expect(await d.knex.schema.hasTable(n.captureErrors)).toBe(true);
    const remembered = await d.knex(n.replicaIdentity).orderBy('table_name');
    expect(remembered.map((r) => `${r.table_name}:${r.identity}`)).toEqual(
      CAPTURED.map((t) => `${t}:${t === 'agreements' ? 'n' : 'd'}`),
    );
    // the heartbeat statement of connectors/postgres.json works on it
    await d.knex.raw(
      `INSERT INTO public.${n.heartbeat} (id, ts) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET ts = EXCLUDED.ts`,
    );

    expect(await migrateUp(d.knex, ctx)).toEqual([]);
    expect(await missingDebeziumObjects(d.knex, ctx)).toEqual([]);
    // a second run did not record our own FULL as the original
    expect((await d.knex(n.replicaIdentity).where({ table_name: 'vgroups' }).first()).identity).toBe('d');
  });

  it('tops up what an operator dropped, and what trigger mode never made', async () => {
    const d = await billing('pg');
    await migrateUp(d.knex, { ...ctx, captureMode: 'triggers' });
    expect(await missingDebeziumObjects(d.knex, ctx)).toContain(`publication ${n.publication}`);
    await migrateUp(d.knex, ctx);
    expect(await missingDebeziumObjects(d.knex, ctx)).toEqual([]);

    await d.knex.raw(`ALTER PUBLICATION ${n.publication} DROP TABLE services`);
    await d.knex.raw('ALTER TABLE vgroups REPLICA IDENTITY DEFAULT');
    expect(await missingDebeziumObjects(d.knex, ctx)).toEqual([
      'services in publication lifestream_pub',
      'REPLICA IDENTITY FULL on vgroups',
    ]);
    const applied = await migrateUp(d.knex, ctx);
    expect(applied).toEqual([
      expect.stringMatching(/^debezium capture objects added: .*services in publication/),
    ]);
    expect(await published(d)).toContain('services');
  });

  it('uninstall drops our slot, publication and tables and restores the replica identities', async () => {
    const d = await billing('pg');
    await d.knex.raw('ALTER TABLE agreements REPLICA IDENTITY NOTHING');
    await migrateUp(d.knex, ctx);
    // what the connector does on its first start
    const slot = `lifestream_t${randomBytes(3).toString('hex')}`;
    await d.knex.raw("SELECT pg_create_logical_replication_slot(?, 'pgoutput')", [slot]);
    await migrateDown(d.knex, ctx);
    const slots = await d.knex.raw('SELECT slot_name FROM pg_replication_slots WHERE slot_name = ?', [slot]);
    expect(slots.rows).toEqual([]);
    expect(await published(d)).toEqual([]);
    const pubs = await d.knex.raw('SELECT pubname FROM pg_publication');
    expect(pubs.rows).toEqual([]);
    for (const t of [n.heartbeat, n.replicaIdentity, n.captureErrors])
      expect(await d.knex.schema.hasTable(t)).toBe(false);
    expect(await identities(d)).toEqual(
      Object.fromEntries(CAPTURED.map((t) => [t, t === 'agreements' ? 'n' : 'd'])),
    );
  });

  it('refuses a database without the billing tables', async () => {
    db = await createTestDatabase('pg', 'dbzmig');
    await expect(migrateUp(db.knex, ctx)).rejects.toThrow(
      /billing table\(s\) "vgroups", .* not found in schema "public"/,
    );
  });
});

describe('debezium capture objects on MySQL/MariaDB', () => {
  const ctx: MigrationContext = { dialect: 'mysql', prefix: 'lifestream_', captureMode: 'debezium' };

  it('checks the binlog, creates the error table, uninstalls it', async () => {
    const d = await billing('mysql');
    expect(await migrateUp(d.knex, ctx)).toContain('005_debezium_capture');
    expect(await d.knex.schema.hasTable(n.captureErrors)).toBe(true);
    expect(await missingDebeziumObjects(d.knex, ctx)).toEqual([]);
    await migrateDown(d.knex, ctx);
    expect(await d.knex.schema.hasTable(n.captureErrors)).toBe(false);
  });

  it('names every binlog setting Debezium needs and how to set it', () => {
    expect(
      binlogProblems({ logBin: 'ON', binlogFormat: 'ROW', binlogRowImage: 'FULL', serverId: '1' }),
    ).toEqual([]);
    // servers older than binlog_row_image always log full rows
    expect(binlogProblems({ logBin: '1', binlogFormat: 'row', binlogRowImage: null, serverId: '7' })).toEqual(
      [],
    );
    const problems = binlogProblems({
      logBin: 'OFF',
      binlogFormat: 'MIXED',
      binlogRowImage: 'MINIMAL',
      serverId: '0',
    });
    expect(problems).toEqual([
      'log_bin is OFF: the binary log is off (my.cnf: log_bin = <base name>, then restart)',
      'binlog_format is MIXED, needs ROW (my.cnf: binlog_format = ROW)',
      'binlog_row_image is MINIMAL, needs FULL (my.cnf: binlog_row_image = FULL)',
      "server_id is 0: a server without one can't serve a binlog reader (my.cnf: server_id = <unique number>)",
    ]);
  });
});
