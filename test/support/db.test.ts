import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, DIALECTS, type TestDatabase } from './db.js';

describe.each(DIALECTS)('test database on %s', (dialect) => {
  let db: TestDatabase;
  afterAll(async () => db?.drop());
  it('is created empty, round-trips a UTC datetime and a decimal as string', async () => {
    db = await createTestDatabase(dialect, 'smoke');
    await db.knex.schema.createTable('t', (t) => {
      t.dateTime('at', { useTz: false });
      t.decimal('money', 20, 6);
    });
    const at = new Date('2026-03-29T01:30:00Z');
    await db.knex('t').insert({ at, money: '-12.5' });
    const [row] = await db.knex('t').select('*');
    expect(row.at.toISOString()).toBe(at.toISOString());
    expect(row.money).toBe('-12.500000');
  });
});
