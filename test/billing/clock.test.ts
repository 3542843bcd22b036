// The billing's clock (src/billing/clock.ts): wall-clock DATETIMEs of a zone ↔ instants, "not
// set" values, RFC 3339 with the zone's offset, the billing's calendar month, and the two DST
// rules (a wall time in the spring gap; an ambiguous one in the autumn overlap), exhaustively on
// the transitions of Europe/Berlin and America/New_York and by property over many instants.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { billingClock, normalizeZone, parseWall, UTC_CLOCK } from '../../src/billing/clock.js';

const utc = (s: string) => new Date(`${s}Z`);
/** a DATETIME as the drivers hand it over: its wall clock in the UTC fields */
const driverValue = (wall: string) => new Date(`${wall.replace(' ', 'T')}Z`);

describe('the billing clock', () => {
  it('reads a wall time of UTC+5 as the instant five hours earlier, and writes it back', () => {
    for (const zone of ['Asia/Yekaterinburg', '+05:00']) {
      const clock = billingClock(zone);
      expect(clock.fromWall(driverValue('2026-12-04 23:10:00'), 'c')?.toISOString()).toBe(
        '2026-12-04T18:10:00.000Z',
      );
      expect(clock.fromWall('2026-12-04 23:10:00', 'c')?.toISOString()).toBe('2026-12-04T18:10:00.000Z');
      expect(clock.toWall(utc('2026-12-04T18:10:00'))).toBe('2026-12-04 23:10:00');
      expect(clock.rfc3339(utc('2026-12-04T18:10:00.999'))).toBe('2026-12-04T23:10:00+05:00');
      expect(clock.offsetMinutes(utc('2026-07-01T00:00:00'))).toBe(300);
    }
  });

  it('is the identity in UTC, and writes Z in RFC 3339', () => {
    expect(UTC_CLOCK.toWall(utc('2026-03-01T10:11:12.345'))).toBe('2026-03-01 10:11:12');
    expect(UTC_CLOCK.fromWall(driverValue('2026-03-01 10:11:12'), 'c')?.toISOString()).toBe(
      '2026-03-01T10:11:12.000Z',
    );
    expect(UTC_CLOCK.rfc3339(utc('2026-03-01T10:11:12'))).toBe('2026-03-01T10:11:12Z');
  });

  it('negative and half-hour offsets', () => {
    const clock = billingClock('-03:30');
    expect(clock.toWall(utc('2026-01-01T02:00:00'))).toBe('2025-12-31 22:30:00');
    expect(clock.rfc3339(utc('2026-01-01T02:00:00'))).toBe('2025-12-31T22:30:00-03:30');
    expect(billingClock('Asia/Kolkata').rfc3339(utc('2026-01-01T00:00:00'))).toBe(
      '2026-01-01T05:30:00+05:30',
    );
  });

  it('treats the zero date, a zero in a date, -infinity and NULL as not set', () => {
    const clock = billingClock('Europe/Moscow');
    for (const v of [
      null,
      undefined,
      new Date(Number.NaN), // mysql2's zero date; connect.ts's parse of '-infinity'
      '0000-00-00 00:00:00',
      '0000-00-00',
      '2026-00-00 00:00:00',
      '2026-05-00',
      '-infinity',
    ]) {
      expect(clock.fromWall(v, 'services.activated'), String(v)).toBeNull();
    }
    expect(parseWall('infinity', 'c')).toBe(Date.UTC(9999, 11, 31, 23, 59, 59));
  });

  it('reads Debezium text (Z appended to the wall clock) and fractions of a second', () => {
    const clock = billingClock('Asia/Yekaterinburg');
    expect(clock.fromWall('2026-03-01T10:11:12.345678Z', 'c')?.toISOString()).toBe(
      '2026-03-01T05:11:12.345Z',
    );
  });

  it('refuses what is not a DATETIME, naming the column', () => {
    expect(() => UTC_CLOCK.fromWall(42, 'services.timefrom')).toThrow(/services\.timefrom/);
    expect(() => UTC_CLOCK.fromWall('yesterday', 'services.timeto')).toThrow(
      /services\.timeto: not a DATETIME/,
    );
    expect(() => UTC_CLOCK.toWall(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('counts the price month on the billing calendar', () => {
    // 2026-01-31 20:00Z is already February 1st in Yekaterinburg
    expect(billingClock('Asia/Yekaterinburg').calendarMonth(utc('2026-01-31T20:00:00'))).toEqual({
      year: 2026,
      month: 2,
    });
    expect(UTC_CLOCK.calendarMonth(utc('2026-01-31T20:00:00'))).toEqual({ year: 2026, month: 1 });
    expect(billingClock('America/New_York').calendarMonth(utc('2027-01-01T03:00:00'))).toEqual({
      year: 2026,
      month: 12,
    });
  });

  it('knows IANA names and offsets, and says what it does not know', () => {
    expect(normalizeZone('Asia/Yekaterinburg')).toBe('Asia/Yekaterinburg');
    expect(normalizeZone('Etc/UTC')).toBe('UTC');
    expect(normalizeZone('+0500')).toBe('+05:00');
    expect(normalizeZone('+00:00')).toBe('UTC');
    expect(normalizeZone('YEKT')).toBeNull();
    expect(normalizeZone('+25:00')).toBeNull();
    expect(() => billingClock('Mars/Olympus')).toThrow(/unknown time zone "Mars\/Olympus"/);
  });
});

describe('the billing clock across daylight saving time', () => {
  const berlin = billingClock('Europe/Berlin');
  const newYork = billingClock('America/New_York');

  it('spring forward, Berlin 2026-03-29 02:00 → 03:00: the walls around the gap, and one inside it', () => {
    expect(berlin.fromWall('2026-03-29 01:59:59', 'c')?.toISOString()).toBe('2026-03-29T00:59:59.000Z');
    expect(berlin.fromWall('2026-03-29 03:00:00', 'c')?.toISOString()).toBe('2026-03-29T01:00:00.000Z');
    // 02:30 is shown by no clock: it is the moment the clocks jumped (01:00Z, 02:00 → 03:00)
    expect(berlin.fromWall('2026-03-29 02:30:00', 'c')?.toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(berlin.fromWall('2026-03-29 02:00:00', 'c')?.toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(berlin.toWall(berlin.fromWall('2026-03-29 02:59:59', 'c')!)).toBe('2026-03-29 03:00:00');
    expect(berlin.toWall(utc('2026-03-29T00:59:59'))).toBe('2026-03-29 01:59:59');
    expect(berlin.toWall(utc('2026-03-29T01:00:00'))).toBe('2026-03-29 03:00:00');
    expect(berlin.rfc3339(utc('2026-03-29T00:59:59'))).toBe('2026-03-29T01:59:59+01:00');
    expect(berlin.rfc3339(utc('2026-03-29T01:00:00'))).toBe('2026-03-29T03:00:00+02:00');
  });

  it('fall back, Berlin 2026-10-25 03:00 → 02:00: an ambiguous wall time is the earlier instant', () => {
    // 02:30 happens at 00:30Z (summer time) and again at 01:30Z (winter time)
    expect(berlin.fromWall('2026-10-25 02:30:00', 'c')?.toISOString()).toBe('2026-10-25T00:30:00.000Z');
    expect(berlin.toWall(utc('2026-10-25T00:30:00'))).toBe('2026-10-25 02:30:00');
    expect(berlin.toWall(utc('2026-10-25T01:30:00'))).toBe('2026-10-25 02:30:00');
    expect(berlin.rfc3339(utc('2026-10-25T00:30:00'))).toBe('2026-10-25T02:30:00+02:00');
    expect(berlin.rfc3339(utc('2026-10-25T01:30:00'))).toBe('2026-10-25T02:30:00+01:00');
    expect(berlin.fromWall('2026-10-25 03:00:00', 'c')?.toISOString()).toBe('2026-10-25T02:00:00.000Z');
    expect(berlin.fromWall('2026-10-25 01:59:59', 'c')?.toISOString()).toBe('2026-10-24T23:59:59.000Z');
  });

  it('New York 2026: the gap at 02:00 on March 8 and the overlap at 01:00 on November 1', () => {
    expect(newYork.fromWall('2026-03-08 02:15:00', 'c')?.toISOString()).toBe('2026-03-08T07:00:00.000Z');
    expect(newYork.toWall(utc('2026-03-08T07:00:00'))).toBe('2026-03-08 03:00:00');
    expect(newYork.fromWall('2026-03-08 01:59:59', 'c')?.toISOString()).toBe('2026-03-08T06:59:59.000Z');
    expect(newYork.fromWall('2026-11-01 01:30:00', 'c')?.toISOString()).toBe('2026-11-01T05:30:00.000Z');
    expect(newYork.toWall(utc('2026-11-01T06:30:00'))).toBe('2026-11-01 01:30:00');
    expect(newYork.rfc3339(utc('2026-11-01T06:30:00'))).toBe('2026-11-01T01:30:00-05:00');
  });

  it('every minute of both transition days, both zones: toWall and fromWall agree', () => {
    const days = [
      [berlin, '2026-03-29'],
      [berlin, '2026-10-25'],
      [newYork, '2026-03-08'],
      [newYork, '2026-11-01'],
    ] as const;
    for (const [clock, day] of days) {
      const start = utc(`${day}T00:00:00`).getTime() - 12 * 3600_000;
      for (let t = start; t < start + 48 * 3600_000; t += 60_000) {
        const instant = new Date(t);
        const wall = clock.toWall(instant);
        const back = clock.fromWall(wall, 'c')!;
        // exact, except for the second pass of a repeated hour, which reads as the first
        if (back.getTime() !== t) {
          expect(t - back.getTime(), `${clock.zone} ${instant.toISOString()}`).toBe(3600_000);
          expect(clock.offsetMinutes(back)).toBeGreaterThan(clock.offsetMinutes(instant));
        }
        expect(clock.toWall(back)).toBe(wall);
      }
    }
  });
});

/** The instants (whole quarter hours) at which a zone's offset changes in a year. */
const transitionCache = new Map<string, number[]>();
function transitionsOf(zone: string, year: number): number[] {
  const key = `${zone}/${year}`;
  const known = transitionCache.get(key);
  if (known) return known;
  const clock = billingClock(zone);
  const found: number[] = [];
  const step = 15 * 60_000;
  let t = Date.UTC(year, 0, 1);
  let offset = clock.offsetMinutes(new Date(t));
  for (const end = Date.UTC(year + 1, 0, 1); t < end; t += 6 * 3600_000) {
    const next = clock.offsetMinutes(new Date(t + 6 * 3600_000));
    if (next !== offset) {
      let s = t;
      while (clock.offsetMinutes(new Date(s)) === offset) s += step;
      found.push(s);
      offset = next;
    }
  }
  transitionCache.set(key, found);
  return found;
}

describe('the billing clock, by property', () => {
  const zones = [
    'UTC',
    'Asia/Yekaterinburg',
    'Europe/Moscow',
    'Europe/Berlin',
    'America/New_York',
    '+05:00',
    '-03:30',
  ];
  const anyTime = fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2100, 0, 1) });
  /** mostly within three hours of one of the zone's DST changes (where the rules bite), else any time */
  const timeIn = (zone: string) =>
    fc.oneof(
      anyTime,
      fc
        .tuple(fc.integer({ min: 1990, max: 2090 }), fc.nat(), fc.integer({ min: -3 * 3600, max: 3 * 3600 }))
        .map(([year, pick, seconds]) => {
          const ts = transitionsOf(zone, year);
          return ts.length === 0 ? Date.UTC(year, 5, 1) : ts[pick % ts.length]! + seconds * 1000;
        }),
    );
  const zoneAnd = <T>(make: (zone: string) => fc.Arbitrary<T>) =>
    fc.constantFrom(...zones).chain((zone) => make(zone).map((v) => [zone, v] as const));
  const instants = (zone: string) => timeIn(zone).map((ms) => new Date(ms - (ms % 1000)));
  const walls = (zone: string) =>
    timeIn(zone).map((ms) => new Date(ms - (ms % 1000)).toISOString().slice(0, 19).replace('T', ' '));

  it('finds the DST changes it tests around', () => {
    expect(transitionsOf('Europe/Berlin', 2026).map((t) => new Date(t).toISOString())).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-10-25T01:00:00.000Z',
    ]);
    expect(transitionsOf('Asia/Yekaterinburg', 2026)).toEqual([]);
  });

  it('toWall then fromWall gives the instant back, or (a repeated hour) the one an hour earlier', () => {
    fc.assert(
      fc.property(zoneAnd(instants), ([zone, t]) => {
        const clock = billingClock(zone);
        const back = clock.fromWall(clock.toWall(t), 'c')!;
        const diff = t.getTime() - back.getTime();
        return diff === 0 || (diff > 0 && diff <= 3600_000 && clock.toWall(back) === clock.toWall(t));
      }),
      { numRuns: 2000 },
    );
  });

  it('fromWall then toWall gives the wall back, except inside a spring gap (its end instead)', () => {
    fc.assert(
      fc.property(zoneAnd(walls), ([zone, wall]) => {
        const clock = billingClock(zone);
        const again = clock.toWall(clock.fromWall(wall, 'c')!);
        if (again === wall) return true;
        const shift = Date.parse(`${again.replace(' ', 'T')}Z`) - Date.parse(`${wall.replace(' ', 'T')}Z`);
        return shift > 0 && shift <= 3600_000;
      }),
      { numRuns: 2000 },
    );
  });

  it('the offset is what separates the wall clock from UTC, and RFC 3339 says it', () => {
    fc.assert(
      fc.property(zoneAnd(instants), ([zone, t]) => {
        const clock = billingClock(zone);
        const wall = Date.parse(`${clock.toWall(t).replace(' ', 'T')}Z`);
        const offset = clock.offsetMinutes(t);
        return wall - t.getTime() === offset * 60_000 && Date.parse(clock.rfc3339(t)) === t.getTime();
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the order of instants (never earlier for a later wall time)', () => {
    fc.assert(
      fc.property(
        zoneAnd((z) => fc.tuple(walls(z), walls(z))),
        ([zone, [a, b]]) => {
          const clock = billingClock(zone);
          const [x, y] = a <= b ? [a, b] : [b, a];
          return clock.fromWall(x, 'c')!.getTime() <= clock.fromWall(y, 'c')!.getTime();
        },
      ),
      { numRuns: 2000 },
    );
  });
});
