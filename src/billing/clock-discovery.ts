// Which zone the billing's wall clock is in, when `billing.timeZone` doesn't say: the zone the
// database itself uses, as LANBilling's own sessions get it.
//
// - PostgreSQL: the `TimeZone` setting a fresh session of the database gets (postgresql.conf,
//   overridden by `ALTER DATABASE … SET timezone`); the service never sets it on its sessions.
// - MySQL/MariaDB: `@@global.time_zone` (every new session starts with it; the service's own
//   sessions then switch to '+00:00', connect.ts). A named zone or an offset ('+05:00') is used
//   as it is; 'SYSTEM' means the server's operating-system zone, which MySQL only knows by its
//   abbreviation (`@@system_time_zone`: 'UTC', 'MSK', '+05', 'CEST'...): mapped to an IANA zone
//   when the abbreviation is a known one, else the UTC offset the server has now is used.
// A name is trusted only when its offset now equals the offset the server itself shows now
// (PostgreSQL: EXTRACT(TIMEZONE FROM now()); MySQL: TIMESTAMPDIFF(NOW(), UTC_TIMESTAMP()) in the
// global zone); otherwise the measured offset wins. A fixed offset can't follow daylight saving:
// the source says so, and `billing.timeZone` is the fix (Russian zones have none since 2014).
import type { Knex } from 'knex';
import { type BillingClock, billingClock, normalizeZone } from './clock.js';
import type { Dialect } from './connect.js';

export interface ZoneFinding {
  clock: BillingClock;
  /** where the zone came from, for doctor and the start-up log */
  source: string;
}

/**
 * Abbreviations a server's operating system reports (MySQL's @@system_time_zone) for zones whose
 * offset alone is not the whole story (daylight saving), or that Russian billings run in.
 */
const ABBREVIATIONS: Record<string, string> = {
  MSK: 'Europe/Moscow',
  MSD: 'Europe/Moscow',
  SAMT: 'Europe/Samara',
  YEKT: 'Asia/Yekaterinburg',
  OMST: 'Asia/Omsk',
  NOVT: 'Asia/Novosibirsk',
  KRAT: 'Asia/Krasnoyarsk',
  IRKT: 'Asia/Irkutsk',
  YAKT: 'Asia/Yakutsk',
  VLAT: 'Asia/Vladivostok',
  MAGT: 'Asia/Magadan',
  PETT: 'Asia/Kamchatka',
  EET: 'EET',
  EEST: 'EET',
  CET: 'CET',
  CEST: 'CET',
  WET: 'WET',
  WEST: 'WET',
  BST: 'Europe/London',
  EST: 'EST5EDT',
  EDT: 'EST5EDT',
  CST: 'CST6CDT',
  CDT: 'CST6CDT',
  MST: 'MST7MDT',
  MDT: 'MST7MDT',
  PST: 'PST8PDT',
  PDT: 'PST8PDT',
};

function offsetZone(seconds: number): string {
  const minutes = Math.round(seconds / 60);
  const abs = Math.abs(minutes);
  const text = `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return normalizeZone(text) ?? 'UTC';
}

/** The named zone if it has the measured offset now, else null. */
function checked(name: string, offsetSeconds: number, now: Date): BillingClock | null {
  const zone = normalizeZone(name);
  if (zone === null) return null;
  const clock = billingClock(zone);
  return clock.offsetMinutes(now) * 60 === Math.round(offsetSeconds / 60) * 60 ? clock : null;
}

function measured(offsetSeconds: number, why: string): ZoneFinding {
  const zone = offsetZone(offsetSeconds);
  return {
    clock: billingClock(zone),
    source: `${why}; using the offset the server has now, ${zone} (a fixed offset: set billing.timeZone if the zone has daylight saving)`,
  };
}

/** What a MySQL/MariaDB server tells about its zone → the billing's clock. Pure. */
export function zoneFromMysql(
  facts: { globalTimeZone: string; systemTimeZone: string; offsetSeconds: number },
  now: Date,
): ZoneFinding {
  const { globalTimeZone: global, systemTimeZone: system, offsetSeconds } = facts;
  if (global.toUpperCase() !== 'SYSTEM') {
    const clock = checked(global, offsetSeconds, now);
    if (clock) return { clock, source: `the server's @@global.time_zone '${global}'` };
    return measured(
      offsetSeconds,
      `the server's @@global.time_zone '${global}' is not a zone this service knows`,
    );
  }
  const direct = checked(system, offsetSeconds, now);
  if (direct)
    return {
      clock: direct,
      source: `the server's system zone (@@global.time_zone SYSTEM, @@system_time_zone '${system}')`,
    };
  const mapped = ABBREVIATIONS[system.toUpperCase()];
  const viaName = mapped ? checked(mapped, offsetSeconds, now) : null;
  if (viaName)
    return {
      clock: viaName,
      source: `the server's system zone (@@global.time_zone SYSTEM, @@system_time_zone '${system}' = ${mapped})`,
    };
  return measured(
    offsetSeconds,
    `the server's system zone '${system}' (@@global.time_zone SYSTEM) has no IANA name`,
  );
}

/** What a PostgreSQL database tells about its zone → the billing's clock. Pure. */
export function zoneFromPostgres(facts: { timeZone: string; offsetSeconds: number }, now: Date): ZoneFinding {
  const clock = checked(facts.timeZone, facts.offsetSeconds, now);
  if (clock) return { clock, source: `the database's TimeZone setting '${facts.timeZone}'` };
  return measured(facts.offsetSeconds, `the database's TimeZone '${facts.timeZone}' is not an IANA zone`);
}

/** Asks the database which zone its wall clock is in. */
export async function discoverBillingZone(
  knex: Knex,
  dialect: Dialect,
  now = new Date(),
): Promise<ZoneFinding> {
  if (dialect === 'pg') {
    const r = await knex.raw(
      "SELECT current_setting('TimeZone') AS zone, EXTRACT(TIMEZONE FROM now())::integer AS offset_seconds",
    );
    const row = r.rows[0] as { zone: string; offset_seconds: number | string };
    return zoneFromPostgres({ timeZone: row.zone, offsetSeconds: Number(row.offset_seconds) }, now);
  }
  // the service's own sessions run at '+00:00' (connect.ts): NOW() is measured in the global zone
  const [rows] = await knex.raw(
    `SELECT @@global.time_zone AS global_zone, @@system_time_zone AS system_zone,
            TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', @@global.time_zone)) AS offset_seconds`,
  );
  const row = rows[0] as { global_zone: string; system_zone: string; offset_seconds: number | string | null };
  if (row.offset_seconds === null)
    throw new Error(
      `the server's @@global.time_zone '${row.global_zone}' can't be converted (time zone tables not loaded): set billing.timeZone`,
    );
  return zoneFromMysql(
    {
      globalTimeZone: row.global_zone,
      systemTimeZone: row.system_zone,
      offsetSeconds: Number(row.offset_seconds),
    },
    now,
  );
}

/** billing.timeZone when configured, else the database's own zone. */
export async function billingZone(
  config: { client: Dialect; timeZone?: string | undefined },
  knex: Knex,
): Promise<ZoneFinding> {
  if (config.timeZone)
    return { clock: billingClock(config.timeZone), source: 'billing.timeZone in the configuration' };
  return discoverBillingZone(knex, config.client);
}

/**
 * The billing's "now": NOW() as a session in the database's default zone sees it, as a DATETIME
 * (its wall clock). PostgreSQL: LOCALTIMESTAMP in the service's session (it keeps the database's
 * TimeZone); MySQL: the service's session runs at '+00:00', so NOW() is converted to the global
 * zone. null when the server can't convert (a named global zone without time zone tables).
 */
export async function databaseWallNow(knex: Knex, dialect: Dialect): Promise<string | null> {
  if (dialect === 'pg') {
    const r = await knex.raw("SELECT to_char(LOCALTIMESTAMP(0), 'YYYY-MM-DD HH24:MI:SS') AS wall");
    return String(r.rows[0].wall);
  }
  const [rows] = await knex.raw(
    "SELECT DATE_FORMAT(CONVERT_TZ(NOW(), @@session.time_zone, @@global.time_zone), '%Y-%m-%d %H:%i:%s') AS wall",
  );
  const wall = rows[0].wall as string | null;
  return wall === null ? null : String(wall);
}
