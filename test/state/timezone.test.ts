// Timers (next_at) and queue times are stored as UTC wall-clock values whatever the zone of the
// machine the service runs on: a Date written and read back, and compared in SQL, stays the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateUp } from '../../src/state/migrate.js';
import { StateStore } from '../../src/state/store.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';

describe.each(DIALECTS)('a process outside UTC on %s', (dialect) => {
  let db: TestDatabase;
  const zone = process.env.TZ;
  beforeAll(async () => {
    process.env.TZ = 'Asia/Yekaterinburg'; // UTC+5, no daylight saving
    db = await createTestDatabase(dialect, 'tz');
    // migrate refuses a database without the billing's tables in either capture mode
    await createLanbillingSchema(db.knex, dialect);
    await migrateUp(db.knex, { dialect, prefix: 'lifestream_', captureMode: 'debezium' });
  });
  afterAll(async () => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
    await db?.drop();
  });

  it('stores and finds a timer at the same instant', async () => {
    expect(new Date('2026-07-01T10:00:00Z').getHours()).toBe(15);
    const store = new StateStore(db.knex, 'lifestream_');
    const nextAt = new Date('2026-07-01T10:00:00Z');
    await store.save([
      { vgId: 7, platformId: null, username: 'u', subscriptions: null, state: null, stateTs: null, nextAt },
    ]);
    expect((await store.get(7))?.nextAt?.toISOString()).toBe(nextAt.toISOString());
    expect(await store.due(new Date('2026-07-01T09:59:59Z'), 10)).toEqual([]);
    expect(await store.due(nextAt, 10)).toEqual([7]);
    expect((await store.nextTimer())?.toISOString()).toBe(nextAt.toISOString());
  });
});
