// The billing's clock: LANBilling's DATETIMEs are wall-clock values of one time zone (its
// server's, or `billing.timeZone`), without any offset stored. This module is the only place that
// turns them into real instants and back; everything past the billing edge (the core, the timers,
// the service's own tables) works with instants (JS Dates) only.
//
// What a DATETIME is on its way in: the drivers hand it over as a Date whose UTC fields are the
// stored wall clock (connect.ts parses DATETIMEs as UTC), or as its text; either way it is first
// read as "wall milliseconds" (the wall fields counted as if they were UTC), then placed in the
// zone. "Not set" is recognised here too: MySQL's zero date '0000-00-00 00:00:00' (mysql2 gives an
// Invalid Date), a zero month or day ('2026-00-00'), PostgreSQL's '-infinity' (the translation of
// the zero date, test/fixture/schema-pg.ts) and NULL.
//
// Daylight saving, for zones that have it (LANBilling stores no offset, so some walls are
// ambiguous and some don't exist):
// - a wall time in the spring-forward gap (Europe/Berlin 2026-03-29 02:30, which no clock shows)
//   is the instant the clocks jumped (01:00Z, when they went from 02:00 to 03:00), as MySQL itself
//   turns such a value into a TIMESTAMP: a later wall time is then never an earlier instant, so a
//   window [timefrom, timeto) can't turn negative;
// - a wall time in the autumn overlap (Berlin 2026-10-25 02:30, shown twice) is the EARLIER of
//   the two instants (00:30Z, still summer time): a service starting or ending then does so at
//   the first 02:30, never up to an hour late;
// - toWall is exact: every instant has one wall time; both instants of a repeated hour give the
//   same wall time, and fromWall(toWall(t)) = t for every t outside the second pass of that hour;
//   toWall(fromWall(w)) = w for every wall time outside a gap (one inside comes back as the end
//   of the gap).
//
// Zones: an IANA name the runtime knows ('Asia/Yekaterinburg', 'Europe/Moscow', 'UTC'), or a
// fixed offset '+05:00' / '-03:30' (what a MySQL server set to time_zone = '+05:00' has, and what
// discovery falls back to: billing/clock-discovery.ts). Whole seconds: the billing's columns have
// none finer, so toWall cuts milliseconds.

export interface BillingClock {
  /** the zone as configured or discovered: an IANA name or a fixed offset like '+05:00' */
  readonly zone: string;
  /** The billing's wall clock at an instant, as a DATETIME literal 'YYYY-MM-DD HH:MM:SS'. */
  toWall(instant: Date): string;
  /** The instant a DATETIME read from LANBilling stands for; null when it is not set. */
  fromWall(value: unknown, column: string): Date | null;
  /** The instant of wall milliseconds (wall fields counted as UTC), see parseWall. */
  instantOfWall(wallMs: number): Date;
  /** The zone's offset from UTC at an instant, in minutes (east positive: +300 for UTC+5). */
  offsetMinutes(instant: Date): number;
  /** RFC 3339 with the zone's offset at that instant, whole seconds: 2026-12-04T23:10:00+05:00. */
  rfc3339(instant: Date): string;
  /** The calendar month (1-12) the billing counts an instant in (prices change by month). */
  calendarMonth(instant: Date): { year: number; month: number };
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const FIXED_OFFSET = /^([+-])(\d{2})(?::?(\d{2}))?$/;
const WALL_TEXT = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?Z?$/;

/**
 * A DATETIME value as wall milliseconds, or null when it is not set. Accepts what the drivers
 * hand over (a Date with the wall clock in its UTC fields; Invalid Date for MySQL's zero date and
 * PostgreSQL's ±infinity) and DATETIME text ('2026-03-01 10:11:12', '2026-03-01T10:11:12Z' as
 * Debezium writes it). Anything else is a driver configuration error and throws, naming the column.
 */
export function parseWall(value: unknown, column: string): number | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isNaN(ms) ? null : ms;
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^[-+]?infinity$/i.test(text))
      return text.startsWith('-') ? null : Date.UTC(9999, 11, 31, 23, 59, 59);
    const m = WALL_TEXT.exec(text);
    if (!m) throw new TypeError(`${column}: not a DATETIME: "${value}"`);
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (year === 0 || month === 0 || day === 0) return null; // zero date, or zero in date
    const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
    const d = new Date(0);
    d.setUTCFullYear(year, month - 1, day);
    d.setUTCHours(Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), ms);
    return d.getTime();
  }
  throw new TypeError(`${column}: expected a DATETIME from the driver, got ${typeof value}`);
}

/** 'YYYY-MM-DD HH:MM:SS' of wall milliseconds. */
function wallText(wallMs: number): string {
  return new Date(wallMs).toISOString().slice(0, 19).replace('T', ' ');
}

function secondsCut(ms: number): number {
  return ms - (((ms % 1000) + 1000) % 1000);
}

function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Minutes east of UTC of a fixed-offset zone text ('+05:00', '+0500', '+05', '-03:30'), else null. */
function fixedOffsetMinutes(zone: string): number | null {
  const m = FIXED_OFFSET.exec(zone.trim());
  if (!m) return null;
  const [hours, mins] = [Number(m[2]), Number(m[3] ?? 0)];
  if (hours > 14 || mins > 59) return null;
  const minutes = hours * 60 + mins;
  return m[1] === '-' ? -minutes : minutes;
}

/**
 * The zone as a clock can use it: an IANA name the runtime knows (canonical spelling kept as
 * given), 'UTC', or a fixed offset normalised to '±HH:MM'. null when it is none of these.
 */
export function normalizeZone(zone: string): string | null {
  const fixed = fixedOffsetMinutes(zone);
  if (fixed !== null) return fixed === 0 ? 'UTC' : offsetText(fixed);
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    // 'Etc/UTC', 'GMT', 'UCT'... are UTC: the fixed clock is exact and cheaper
    return resolved === 'UTC' ? 'UTC' : zone;
  } catch {
    return null;
  }
}

abstract class ClockBase implements BillingClock {
  constructor(readonly zone: string) {}

  abstract offsetMinutes(instant: Date): number;
  abstract instantOfWall(wallMs: number): Date;

  toWall(instant: Date): string {
    const ms = instant.getTime();
    if (!Number.isFinite(ms)) throw new RangeError('toWall: invalid Date');
    const at = secondsCut(ms);
    return wallText(at + this.offsetMinutes(new Date(at)) * MINUTE_MS);
  }

  fromWall(value: unknown, column: string): Date | null {
    const wall = parseWall(value, column);
    return wall === null ? null : this.instantOfWall(wall);
  }

  rfc3339(instant: Date): string {
    const at = secondsCut(instant.getTime());
    const offset = this.offsetMinutes(new Date(at));
    const wall = new Date(at + offset * MINUTE_MS).toISOString().slice(0, 19);
    return `${wall}${offset === 0 ? 'Z' : offsetText(offset)}`;
  }

  calendarMonth(instant: Date): { year: number; month: number } {
    const wall = new Date(instant.getTime() + this.offsetMinutes(instant) * MINUTE_MS);
    return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1 };
  }
}

class FixedClock extends ClockBase {
  constructor(
    zone: string,
    private readonly minutes: number,
  ) {
    super(zone);
  }

  offsetMinutes(): number {
    return this.minutes;
  }

  instantOfWall(wallMs: number): Date {
    return new Date(wallMs - this.minutes * MINUTE_MS);
  }
}

/** Offsets change on quarter hours of UTC in every zone of today's tz database. */
const OFFSET_BUCKET_MS = 15 * MINUTE_MS;
const OFFSET_CACHE_MAX = 100_000;

class ZoneClock extends ClockBase {
  private readonly format: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();

  constructor(zone: string) {
    super(zone);
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  offsetMinutes(instant: Date): number {
    const ms = instant.getTime();
    const bucket = Math.floor(ms / OFFSET_BUCKET_MS);
    const known = this.offsets.get(bucket);
    if (known !== undefined) return known;
    const f: Record<string, number> = {};
    for (const p of this.format.formatToParts(new Date(bucket * OFFSET_BUCKET_MS))) {
      if (p.type !== 'literal') f[p.type] = Number(p.value);
    }
    const wall = new Date(0);
    wall.setUTCFullYear(f.year!, f.month! - 1, f.day!);
    wall.setUTCHours(f.hour!, f.minute!, f.second!, 0);
    const minutes = Math.round((wall.getTime() - bucket * OFFSET_BUCKET_MS) / MINUTE_MS);
    if (this.offsets.size >= OFFSET_CACHE_MAX) this.offsets.clear();
    this.offsets.set(bucket, minutes);
    return minutes;
  }

  instantOfWall(wallMs: number): Date {
    // The offsets a day either side cover every transition near this wall time; a candidate
    // instant is real when the zone's offset at it is the one it was made with.
    const before = this.offsetMinutes(new Date(wallMs - DAY_MS));
    const after = this.offsetMinutes(new Date(wallMs + DAY_MS));
    const real = [before, after]
      .map((o) => wallMs - o * MINUTE_MS)
      .filter((t) => this.offsetMinutes(new Date(t)) * MINUTE_MS === wallMs - t);
    // overlap: both are real, the earlier wins
    if (real.length > 0) return new Date(Math.min(...real));
    // gap: neither is; the jump lies between the two candidates, on a quarter hour of UTC
    const last = wallMs - before * MINUTE_MS;
    let t = Math.floor((wallMs - after * MINUTE_MS) / OFFSET_BUCKET_MS) * OFFSET_BUCKET_MS;
    while (t < last && this.offsetMinutes(new Date(t)) !== after) t += OFFSET_BUCKET_MS;
    return new Date(t);
  }
}

const clocks = new Map<string, BillingClock>();

/** The clock of a zone (normalizeZone's forms); throws RangeError naming a zone it doesn't know. */
export function billingClock(zone: string): BillingClock {
  const normalized = normalizeZone(zone);
  if (normalized === null)
    throw new RangeError(
      `unknown time zone "${zone}": use an IANA name (e.g. Europe/Moscow) or an offset (+05:00)`,
    );
  let clock = clocks.get(normalized);
  if (!clock) {
    const fixed = fixedOffsetMinutes(normalized) ?? (normalized === 'UTC' ? 0 : null);
    clock = fixed !== null ? new FixedClock(normalized, fixed) : new ZoneClock(normalized);
    clocks.set(normalized, clock);
  }
  return clock;
}

/** A billing whose wall clock is UTC (what the service assumed before billing.timeZone). */
export const UTC_CLOCK: BillingClock = billingClock('UTC');
