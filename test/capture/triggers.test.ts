// The capture objects on the real servers: install and uninstall are idempotent and touch nothing
// else, the triggers write row images in the writer's transaction, skip no-op updates, and on
// PostgreSQL one transaction sends one NOTIFY however many statements it has.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureNames } from '../../migrations/capture/index.js';
import { CAPTURED_COLUMNS } from '../../src/capture/columns.js';
import { migrateDown, migrateUp } from '../../src/state/migrate.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';

const PREFIX = 'lifestream_';
const N = captureNames(PREFIX);

async function rowsOf(
  db: TestDatabase,
  sql: string,
  bindings: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  const r = await db.knex.raw(sql, bindings as never);
  return db.dialect === 'pg' ? r.rows : r[0];
}

/** Every object in the database, by kind: what install and uninstall may change. */
async function inventory(
  db: TestDatabase,
): Promise<{ tables: string[]; triggers: string[]; functions: string[] }> {
  if (db.dialect === 'pg') {
    const tables = await rowsOf(
      db,
      "SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    );
    const triggers = await rowsOf(db, 'SELECT tgname AS n FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1');
    const functions = await rowsOf(
      db,
      "SELECT proname AS n FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1",
    );
    return { tables: names(tables), triggers: names(triggers), functions: names(functions) };
  }
  const tables = await rowsOf(
    db,
    'SELECT table_name AS n FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1',
  );
  const triggers = await rowsOf(
    db,
    'SELECT trigger_name AS n FROM information_schema.triggers WHERE trigger_schema = DATABASE() ORDER BY 1',
  );
  const functions = await rowsOf(
    db,
    'SELECT routine_name AS n FROM information_schema.routines WHERE routine_schema = DATABASE() ORDER BY 1',
  );
  return { tables: names(tables), triggers: names(triggers), functions: names(functions) };
}

/** sorted in JS: the servers' collations order `_` differently */
const names = (rows: Record<string, unknown>[]) => rows.map((r) => String(r.n)).sort();

interface LogRow {
  table_name: string;
  op: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  txid: unknown;
  created_at: Date;
}

async function changelog(db: TestDatabase): Promise<LogRow[]> {
  const rows = await db.knex(N.changelog).orderBy('id');
  const json = (v: unknown) => (v === null ? null : typeof v === 'string' ? JSON.parse(v) : v);
  return rows.map((r) => ({ ...r, before: json(r.row_before), after: json(r.row_after) }));
}

describe.each(DIALECTS)('capture triggers on %s', (dialect) => {
  let db: TestDatabase;
  const ctx = { dialect, prefix: PREFIX, captureMode: 'triggers' as const };
  const svcBasic = SAMPLE.accounts.svcBasic;

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'trg');
    await createLanbillingSchema(db.knex, dialect);
    await loadSample(db.knex, dialect, new Date());
  });
  afterAll(async () => db?.drop());

  it('install is idempotent, uninstall removes exactly what it added, a dropped trigger is put back', async () => {
    // the billing's own (the vendor's tm_* journals and check_block on MySQL) stay as they are
    const billing = await inventory(db);
    expect(billing.triggers.filter((t) => t.startsWith(PREFIX))).toEqual([]);

    expect(await migrateUp(db.knex, ctx)).toContain('002_propagation');
    expect(await migrateUp(db.knex, ctx)).toEqual([]);
    const installed = await inventory(db);
    const expectedTriggers = N.triggers(dialect)
      .map((t) => t.name)
      .sort();
    expect(installed.triggers).toEqual([...billing.triggers, ...expectedTriggers].sort());
    expect(installed.triggers.filter((t) => t.startsWith(PREFIX))).toEqual(expectedTriggers);
    expect(installed.tables).toEqual(
      [...billing.tables, ...installed.tables.filter((t) => t.startsWith(PREFIX))].sort(),
    );
    expect(installed.tables).toContain(N.changelog);
    expect(installed.functions).toEqual(dialect === 'pg' ? [N.captureFunction, N.notifyFunction].sort() : []);

    await migrateDown(db.knex, ctx);
    expect(await inventory(db)).toEqual(billing);

    await migrateUp(db.knex, ctx);
    const victim = N.rowTrigger('services', 'upd');
    await db.knex.raw(dialect === 'pg' ? `DROP TRIGGER ${victim} ON services` : `DROP TRIGGER ${victim}`);
    expect(await migrateUp(db.knex, ctx)).toEqual([`capture objects added: ${victim}`]);
    expect((await inventory(db)).triggers).toEqual([...billing.triggers, ...expectedTriggers].sort());
  });

  it('uninstall in debezium mode still removes triggers installed in trigger mode', async () => {
    const before = await inventory(db);
    const billing = before.tables.filter((t) => !t.startsWith(PREFIX));
    const vendor = before.triggers.filter((t) => !t.startsWith(PREFIX));
    await migrateDown(db.knex, { ...ctx, captureMode: 'debezium' });
    expect(await inventory(db)).toEqual({ tables: billing, triggers: vendor, functions: [] });
    await migrateUp(db.knex, ctx);
  });

  it('writes row images in the writer transaction, skips no-op updates, keeps nothing of a rollback', async () => {
    await db.knex(N.changelog).delete();
    const [inserted] = await db.knex('services').insert(
      {
        vg_id: svcBasic.vgId,
        tar_id: 10,
        serv_cat_idx: 6,
        mul: '1.5',
        timefrom: '2026-01-01 00:00:00',
        state: 1,
      },
      'service_id',
    );
    const serviceId = Number(typeof inserted === 'object' ? inserted.service_id : inserted);
    await db.knex('services').where({ service_id: serviceId }).update({ state: 3 });
    await db.knex('services').where({ service_id: serviceId }).update({ state: 3 }); // no-op
    // columns the service doesn't read: nothing to capture
    await db.knex('services').where({ service_id: serviceId }).update({ comment: 'a note', mul: '2' });
    await db.knex('vgroups').where({ vg_id: svcBasic.vgId }).update({ descr: 'renamed' });
    await db.knex('agreements').where({ agrm_id: svcBasic.agrmId }).update({ balance: '12.345678' });
    await db.knex
      .transaction(async (trx) => {
        await trx('vgroups').where({ vg_id: svcBasic.vgId }).update({ blocked: 3 });
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await db.knex('services').where({ service_id: serviceId }).delete();

    const log = await changelog(db);
    expect(log.map((r) => `${r.table_name}:${r.op}`)).toEqual([
      'services:I',
      'services:U',
      'agreements:U',
      'services:D',
    ]);
    const [ins, upd, agr, del] = log as [LogRow, LogRow, LogRow, LogRow];
    expect(ins.before).toBeNull();
    expect(ins.after).toMatchObject({
      service_id: serviceId,
      vg_id: svcBasic.vgId,
      tar_id: 10,
      serv_cat_idx: 6,
      state: 1,
    });
    expect(upd.before).toMatchObject({ state: 1 });
    expect(upd.after).toMatchObject({ state: 3 });
    expect(del.after).toBeNull();
    expect(del.before).toMatchObject({ service_id: serviceId });
    // money keeps its digits on MySQL (cast to text); PostgreSQL's jsonb keeps the numeric exactly
    expect(String(agr.after?.balance)).toMatch(/^12\.345678/);
    if (dialect === 'pg') expect(String(ins.txid)).toMatch(/^\d+$/);
    // MySQL images carry the captured columns only (building JSON of every column is the cost there)
    if (dialect === 'mysql')
      expect(Object.keys(ins.after ?? {}).sort()).toEqual([...CAPTURED_COLUMNS.services].sort());
    for (const r of log) expect(Math.abs(r.created_at.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it.runIf(dialect === 'pg')(
    'sends one NOTIFY per transaction, not per row or statement, none for uncaptured columns',
    async () => {
      const listener = new pg.Client({ connectionString: db.url });
      await listener.connect();
      const got: string[] = [];
      listener.on('notification', (n) => got.push(n.channel));
      await listener.query(`LISTEN ${N.channel}`);
      try {
        await db.knex.transaction(async (trx) => {
          await trx('vgroups').where({ vg_id: svcBasic.vgId }).update({ blocked: 2 });
          await trx('vgroups').where({ vg_id: svcBasic.vgId }).update({ blocked: 0 });
          await trx('agreements').whereIn('agrm_id', [svcBasic.agrmId, 503]).update({ credit: '1' });
          await trx('services').where({ vg_id: svcBasic.vgId }).update({ comment: 'x' });
        });
        await new Promise((r) => setTimeout(r, 200));
        expect(got).toEqual([N.channel]);
        await db.knex('vgroups').where({ vg_id: svcBasic.vgId }).update({ blocked: 3 });
        await db.knex('vgroups').where({ vg_id: svcBasic.vgId }).update({ blocked: 0 });
        await db.knex('vgroups').where({ vg_id: svcBasic.vgId }).update({ descr: 'not captured' });
        await new Promise((r) => setTimeout(r, 200));
        expect(got).toHaveLength(3);
      } finally {
        await listener.end();
      }
    },
  );
});
