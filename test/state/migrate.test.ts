import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDown, migrateUp } from '../../src/state/migrate.js';
import { StateStore } from '../../src/state/store.js';
import { createLanbillingSchema, LANBILLING_TABLES } from '../fixture/lanbilling-schema.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';

async function tables(db: TestDatabase): Promise<string[]> {
  if (db.dialect === 'pg') {
    const r = await db.knex.raw("select table_name from information_schema.tables where table_schema = 'public' order by 1");
    return r.rows.map((x: { table_name: string }) => x.table_name);
  }
  const [rows] = await db.knex.raw('select table_name as t from information_schema.tables where table_schema = database() order by 1');
  return rows.map((x: { t: string }) => x.t);
}

describe.each(DIALECTS)('migrations and the state store on %s', (dialect) => {
  let db: TestDatabase;
  const ctx = () => ({ dialect, prefix: 'lifestream_', captureMode: 'triggers' as const });
  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'mig');
    // the billing's tables must survive; trigger mode puts its capture triggers on some of them
    await createLanbillingSchema(db.knex, dialect);
  });
  afterAll(async () => db?.drop());

  it('installs idempotently, and uninstall removes exactly what it added', async () => {
    const first = await migrateUp(db.knex, ctx());
    expect(first.length).toBeGreaterThan(0);
    expect(await migrateUp(db.knex, ctx())).toEqual([]);
    const installed = await tables(db);
    const billing = [...LANBILLING_TABLES].sort();
    expect(installed).toEqual(expect.arrayContaining(['lifestream_accounts', 'lifestream_parked', 'lifestream_migrations', 'vgroups']));
    expect(installed.filter((t) => !t.startsWith('lifestream_')).sort()).toEqual(billing);
    await migrateDown(db.knex, ctx());
    expect((await tables(db)).sort()).toEqual(billing);
    await migrateUp(db.knex, ctx());
  });

  it('stores account records and parks/unparks accounts', async () => {
    const store = new StateStore(db.knex, 'lifestream_');
    const nextAt = new Date('2026-07-01T10:00:00Z');
    await store.save([
      { vgId: 1, platformId: 'a'.repeat(24), username: 'u1', subscriptions: ['100', '5010'], state: { balance: -5, status: 'suspended_no_funds', tvSuspended: true, recommendedRefill: 5 }, stateTs: 1_750_000_000_123, nextAt },
      { vgId: 2, platformId: null, username: 'u2', subscriptions: null, state: null, stateTs: null, nextAt: null },
    ]);
    await store.save([{ vgId: 2, platformId: 'b'.repeat(24), username: 'u2', subscriptions: [], state: null, stateTs: null, nextAt: null }]);
    const got = await store.getMany([1, 2, 3]);
    expect(got.size).toBe(2);
    expect(got.get(1)).toEqual({ vgId: 1, platformId: 'a'.repeat(24), username: 'u1', subscriptions: ['100', '5010'], state: { balance: -5, status: 'suspended_no_funds', tvSuspended: true, recommendedRefill: 5 }, stateTs: 1_750_000_000_123, nextAt });
    expect(got.get(2)?.platformId).toBe('b'.repeat(24));
    expect(await store.due(new Date('2026-07-01T10:00:00Z'), 10)).toEqual([1]);
    expect(await store.due(new Date('2026-07-01T09:59:59Z'), 10)).toEqual([]);

    await store.park(1, 'bad_request', 'first');
    await store.park(1, 'forbidden', 'second', 'lanbilling.public.services/0/42');
    const parked = await store.listParked();
    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({ vgId: 1, reason: 'forbidden', detail: 'second', attempts: 2, source: 'lanbilling.public.services/0/42' });
    expect(await store.unpark([1, 2])).toBe(1);
    expect(await store.listParked()).toEqual([]);
  });
});
