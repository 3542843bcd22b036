// Which zone the billing's clock is in when billing.timeZone doesn't say: the rules on what the
// servers report (pure), and the real discovery on both servers, including a MariaDB whose
// @@global.time_zone is '+05:00' (set and restored under a lock, for a moment: every other
// connection of the test suite sets its own session zone, so nothing else notices).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  billingZone,
  discoverBillingZone,
  zoneFromMysql,
  zoneFromPostgres,
} from '../../src/billing/clock-discovery.js';
import { openBilling } from '../../src/billing/connect.js';
import { setBillingClock } from '../support/billing-clock.js';
import { createTestDatabase, MYSQL_ADMIN, type TestDatabase } from '../support/db.js';

const now = new Date('2026-07-01T12:00:00Z');

describe('the zone a MySQL/MariaDB server reports', () => {
  it('a named or offset @@global.time_zone is used as it is', () => {
    expect(
      zoneFromMysql({ globalTimeZone: '+05:00', systemTimeZone: 'UTC', offsetSeconds: 18000 }, now).clock
        .zone,
    ).toBe('+05:00');
    const named = zoneFromMysql(
      { globalTimeZone: 'Europe/Moscow', systemTimeZone: 'UTC', offsetSeconds: 10800 },
      now,
    );
    expect(named.clock.zone).toBe('Europe/Moscow');
    expect(named.source).toMatch(/@@global.time_zone 'Europe\/Moscow'/);
  });

  it('SYSTEM: the system zone by its name, by a known abbreviation, or by its offset', () => {
    const utc = zoneFromMysql({ globalTimeZone: 'SYSTEM', systemTimeZone: 'UTC', offsetSeconds: 0 }, now);
    expect(utc.clock.zone).toBe('UTC');
    const msk = zoneFromMysql({ globalTimeZone: 'SYSTEM', systemTimeZone: 'MSK', offsetSeconds: 10800 }, now);
    expect(msk.clock.zone).toBe('Europe/Moscow');
    expect(msk.source).toMatch(/'MSK' = Europe\/Moscow/);
    // today's tz database calls Yekaterinburg time "+05"
    expect(
      zoneFromMysql({ globalTimeZone: 'SYSTEM', systemTimeZone: '+05', offsetSeconds: 18000 }, now).clock
        .zone,
    ).toBe('+05:00');
    // summer in Berlin: CEST = the CET zone (EU rules), so winter follows
    const cest = zoneFromMysql(
      { globalTimeZone: 'SYSTEM', systemTimeZone: 'CEST', offsetSeconds: 7200 },
      now,
    );
    expect(cest.clock.zone).toBe('CET');
    expect(cest.clock.offsetMinutes(new Date('2026-01-15T12:00:00Z'))).toBe(60);
  });

  it('falls back to the measured offset, saying so, when a name is unknown or disagrees with the server', () => {
    const odd = zoneFromMysql(
      { globalTimeZone: 'SYSTEM', systemTimeZone: 'XYZT', offsetSeconds: 16200 },
      now,
    );
    expect(odd.clock.zone).toBe('+04:30');
    expect(odd.source).toMatch(/'XYZT'.*has no IANA name.*\+04:30.*billing\.timeZone/);
    // MSK with a +04:00 server: the name is not trusted
    expect(
      zoneFromMysql({ globalTimeZone: 'SYSTEM', systemTimeZone: 'MSK', offsetSeconds: 14400 }, now).clock
        .zone,
    ).toBe('+04:00');
  });
});

describe('the zone a PostgreSQL database reports', () => {
  it('an IANA TimeZone setting is used; a POSIX one falls back to the measured offset', () => {
    expect(zoneFromPostgres({ timeZone: 'Asia/Yekaterinburg', offsetSeconds: 18000 }, now).clock.zone).toBe(
      'Asia/Yekaterinburg',
    );
    expect(zoneFromPostgres({ timeZone: 'Etc/UTC', offsetSeconds: 0 }, now).clock.zone).toBe('UTC');
    // POSIX 'UTC+5' is five hours WEST of Greenwich: the offset the server measures decides
    const posix = zoneFromPostgres({ timeZone: '<-05>+05', offsetSeconds: -18000 }, now);
    expect(posix.clock.zone).toBe('-05:00');
    expect(posix.source).toMatch(/not an IANA zone/);
  });
});

describe('discovery on the real servers', () => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => Promise.all(dbs.map((d) => d.drop())));

  it("PostgreSQL: the database's own TimeZone, as set for that database only", async () => {
    const db = await createTestDatabase('pg', 'zone');
    dbs.push(db);
    expect((await discoverBillingZone(db.knex, 'pg')).clock.zone).not.toBe('Asia/Yekaterinburg');
    const clocked = await setBillingClock(db, 'Asia/Yekaterinburg');
    await clocked.writer.destroy();
    const found = await discoverBillingZone(db.knex, 'pg');
    expect(found.clock.zone).toBe('Asia/Yekaterinburg');
    expect(found.source).toBe("the database's TimeZone setting 'Asia/Yekaterinburg'");
  });

  it('billing.timeZone wins over the database, and is not asked of it', async () => {
    const dead = openBilling('mysql', 'mysql://nobody@127.0.0.1:1/none');
    try {
      const found = await billingZone({ client: 'mysql', timeZone: 'Europe/Samara' }, dead);
      expect(found).toMatchObject({ source: 'billing.timeZone in the configuration' });
      expect(found.clock.zone).toBe('Europe/Samara');
    } finally {
      await dead.destroy();
    }
  });

  describe('MariaDB, with @@global.time_zone changed for a moment', () => {
    const admin = openBilling('mysql', MYSQL_ADMIN, { min: 1, max: 1 });
    const LOCK = 'lbls-test:global-time-zone';
    beforeAll(async () => {
      const [rows] = await admin.raw('SELECT GET_LOCK(?, 60) AS ok', [LOCK]);
      expect(Number(rows[0].ok)).toBe(1);
    });
    afterAll(async () => {
      await admin.raw('SELECT RELEASE_LOCK(?)', [LOCK]).catch(() => undefined);
      await admin.destroy();
    });

    it("reads the server's zone: SYSTEM (this machine's, UTC) and '+05:00'", async () => {
      expect((await discoverBillingZone(admin, 'mysql')).clock.zone).toBe('UTC');
      const [[before]] = await admin.raw('SELECT @@global.time_zone AS z');
      let found: Awaited<ReturnType<typeof discoverBillingZone>>;
      await admin.raw("SET GLOBAL time_zone = '+05:00'");
      try {
        found = await discoverBillingZone(admin, 'mysql');
      } finally {
        await admin.raw('SET GLOBAL time_zone = ?', [before.z]);
      }
      expect(found.clock.zone).toBe('+05:00');
      expect(found.source).toBe("the server's @@global.time_zone '+05:00'");
    });
  });
});
