// Gives a test database a billing clock in a zone other than UTC, the way a real LANBilling has
// one, for any suite to build on (also the combined acceptance test: real schema + UTC+5 + a
// DML-only billing user + MariaDB 10.1):
//
// - PostgreSQL: `ALTER DATABASE <db> SET timezone = <zone>`. Every new session of that database
//   (the billing's and the service's; the helper reopens db.knex) then has the zone, NOW() and
//   LOCALTIMESTAMP are its wall clock, and the service finds the zone by itself (discovery).
// - MariaDB/MySQL: a zone is per server, never per database, and the test servers are shared by
//   test files running in parallel, so the global is left alone. Instead the billing's own writers
//   get sessions with `SET time_zone = '<offset>'` (their NOW() is the billing's wall clock), and
//   the service is configured with billing.timeZone (what an operator does when the server's zone
//   isn't the billing's). A fixed offset, so only zones without daylight saving here.
//
// `writer` is the billing's own connection: write with NOW() there (or with clock.toWall(...)
// literals anywhere) as LANBilling's core and UI would.
import knexFactory, { type Knex } from 'knex';
import { type BillingClock, billingClock } from '../../src/billing/clock.js';
import { openBilling } from '../../src/billing/connect.js';
import { PG_ADMIN, type TestDatabase } from './db.js';

export interface BillingClockSetting {
  zone: string;
  clock: BillingClock;
  /** what the service's `billing` config needs on top: nothing where it discovers the zone itself */
  config: { timeZone?: string };
  /** the billing's own sessions: NOW() is its wall clock */
  writer: Knex;
  /** the billing's SQL for "now" on its own sessions (a DATETIME, whole seconds) */
  nowSql: string;
  /** `nowSql` plus some seconds, as a value for the writer's statements */
  now(seconds?: number): Knex.Raw;
  /** closes the writer and drops the database */
  close(): Promise<void>;
}

function mysqlSessionOffset(clock: BillingClock): string {
  const jan = clock.offsetMinutes(new Date(Date.UTC(2026, 0, 15)));
  const jul = clock.offsetMinutes(new Date(Date.UTC(2026, 6, 15)));
  if (jan !== jul)
    throw new Error(`${clock.zone} has daylight saving: a MariaDB test session can only take a fixed offset`);
  return clock
    .rfc3339(new Date(Date.UTC(2026, 0, 15)))
    .slice(19)
    .replace('Z', '+00:00');
}

/** The billing's "now" plus `seconds` in SQL, on one of its own sessions. */
export function billingNow(writer: Knex, dialect: 'pg' | 'mysql', seconds = 0): Knex.Raw {
  const s = Math.trunc(seconds);
  return dialect === 'pg'
    ? writer.raw(`LOCALTIMESTAMP(0) + make_interval(secs => ${s})`)
    : writer.raw(`NOW() + INTERVAL ${s} SECOND`);
}

/** The billing's own sessions on MariaDB/MySQL: every new one set to the billing's offset. */
function mysqlWriter(url: string, offset: string): Knex {
  return knexFactory({
    client: 'mysql2',
    connection: { uri: url, dateStrings: true } as Knex.MySql2ConnectionConfig & { uri: string },
    pool: {
      min: 0,
      max: 4,
      afterCreate(
        conn: { query: (sql: string, cb: (err: Error | null) => void) => void },
        done: (err: Error | null, c: unknown) => void,
      ) {
        conn.query(`SET time_zone = '${offset}'`, (err) => done(err, conn));
      },
    },
  });
}

/**
 * `writerUrl`: the billing's own sessions connect there instead of db.url (another database
 * user of the same database, e.g. a DML-only billing user).
 */
export async function setBillingClock(
  db: TestDatabase,
  zone: string,
  opts: { writerUrl?: string } = {},
): Promise<BillingClockSetting> {
  const clock = billingClock(zone);
  const pg = db.dialect === 'pg';
  if (pg) {
    const admin = openBilling('pg', PG_ADMIN, { min: 0, max: 1 });
    try {
      await admin.raw(`ALTER DATABASE "${db.name}" SET timezone = '${zone.replace(/'/g, "''")}'`);
    } finally {
      await admin.destroy();
    }
    await db.reopen();
  }
  const url = opts.writerUrl ?? db.url;
  const writer = pg
    ? openBilling('pg', url, { min: 0, max: 4 })
    : mysqlWriter(url, mysqlSessionOffset(clock));
  return {
    zone,
    clock,
    // PostgreSQL: the service finds the database's zone by itself
    config: pg ? {} : { timeZone: zone },
    writer,
    nowSql: pg ? 'LOCALTIMESTAMP(0)' : 'NOW()',
    now: (seconds = 0) => billingNow(writer, db.dialect, seconds),
    async close() {
      await writer.destroy();
      await db.drop();
    },
  };
}

/** A services row of an offer on a tariff, from/to as the billing writes them (e.g. now()). */
export function serviceRow(
  vgId: number,
  tarId: number,
  servCatIdx: number,
  from: Knex.Raw | string,
  to?: Knex.Raw | string,
): Record<string, unknown> {
  return {
    vg_id: vgId,
    tar_id: tarId,
    serv_cat_idx: servCatIdx,
    timefrom: from,
    ...(to ? { timeto: to } : {}),
    state: 1,
  };
}
