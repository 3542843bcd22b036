// The service's MySQL/MariaDB sessions accept the vendor's zero dates whatever the server's
// sql_mode is. A server with MySQL 5.7's default mode (NO_ZERO_DATE, NO_ZERO_IN_DATE,
// STRICT_TRANS_TABLES) is played by this test's own connections, which start with that mode as
// their session's, the way a new session inherits the global: the shared server's global is
// left alone.
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareMysqlSession } from '../../src/billing/connect.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const STRICT_57 =
  'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

type Conn = { query: (sql: string, cb: (err: Error | null) => void) => void };

/** A knex whose new sessions start in STRICT_57, then (or not) get the service's own setup. */
function onStrictServer(url: string, serviceSetup: boolean): Knex {
  return knexFactory({
    client: 'mysql2',
    connection: { uri: url, timezone: 'Z' } as Knex.MySql2ConnectionConfig & { uri: string },
    pool: {
      min: 0,
      max: 2,
      afterCreate(conn: Conn, done: (err: Error | null, c: unknown) => void) {
        conn.query(`SET SESSION sql_mode = '${STRICT_57}'`, (err) => {
          if (err || !serviceSetup) return done(err, conn);
          prepareMysqlSession(conn, done);
        });
      },
    },
  });
}

describe('the service on a MySQL server whose sql_mode refuses zero dates', () => {
  let db: TestDatabase;
  let service: Knex;
  let plain: Knex;
  const vgId = SAMPLE.accounts.inetOnly.vgId;
  const category = { tar_id: SAMPLE.tariffs.internetOnly, serv_cat_idx: 1 };

  beforeAll(async () => {
    db = await createTestDatabase('mysql', 'mode');
    await createLanbillingSchema(db.knex, 'mysql');
    await loadSample(db.knex, 'mysql', new Date());
    service = onStrictServer(db.url, true);
    plain = onStrictServer(db.url, false);
  });
  afterAll(async () => {
    await service?.destroy();
    await plain?.destroy();
    await db?.drop();
  });

  it('keeps the server mode but NO_ZERO_DATE and NO_ZERO_IN_DATE, and the session zone at UTC', async () => {
    const [[row]] = await service.raw('SELECT @@SESSION.sql_mode AS mode, @@SESSION.time_zone AS zone');
    expect(row.mode.split(',')).toEqual(
      STRICT_57.split(',').filter((f) => f !== 'NO_ZERO_DATE' && f !== 'NO_ZERO_IN_DATE'),
    );
    expect(row.zone).toBe('+00:00');
  });

  it('writes a services row the way the service does: activated left to its zero-date default', async () => {
    const row = { vg_id: vgId, ...category, timefrom: '2026-01-01 00:00:00', state: 1 };
    // the control: a session that kept the strict mode refuses the billing's own default
    await expect(plain('services').insert(row)).rejects.toThrow(/Incorrect datetime value|activated/i);
    const [id] = await service('services').insert(row);
    const [[stored]] = await service.raw(
      "SELECT activated = '0000-00-00 00:00:00' AS zero FROM services WHERE service_id = ?",
      [id!],
    );
    expect(Number(stored.zero)).toBe(1);
    // and updates rows that carry zero dates (vgroups.acc_offdate, block_date...)
    expect(await service('vgroups').where({ vg_id: vgId }).update({ descr: 'updated' })).toBe(1);
  });
});
