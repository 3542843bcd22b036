// Column values as the two drivers hand them over, turned into the plain values of types.ts, so
// that PostgreSQL and MySQL/MariaDB give identical AccountState values.
//
// What differs between the drivers and what the billing's conventions add:
// - DATETIMEs are wall-clock values of the billing's zone: clock.ts reads them (and knows "not
//   set": MySQL's zero date, PostgreSQL's -infinity, NULL) and makes them instants.
// - '9999-12-31 23:59:59' means open-ended; anything from the year 9000 on is taken as the same,
//   because hand-written rows use e.g. '9999-01-01' or '9999-12-31 00:00:00'.
// - decimal(20,6) arrives as a string on both, but the text depends on the column's declared
//   scale, which an operator's replica may have changed; money is therefore re-written to exactly
//   six decimals without ever going through a float.

import { type BillingClock, parseWall } from './clock.js';

const OPEN_END_FROM_YEAR = 9000;
const MONEY_SCALE = 6;

/** Start of a window (`timefrom`, `dtfrom`): not set = in force since forever. */
export function windowStart(v: unknown, column: string, clock: BillingClock): Date {
  return clock.fromWall(v, column) ?? new Date(0);
}

/** End of a window (`timeto`, `dtto`): not set or the far-future marker = open (null). */
export function windowEnd(v: unknown, column: string, clock: BillingClock): Date | null {
  const wall = parseWall(v, column);
  if (wall === null || new Date(wall).getUTCFullYear() >= OPEN_END_FROM_YEAR) return null;
  return clock.instantOfWall(wall);
}

/**
 * A decimal column as a string with exactly six decimals: "-12.5" and "-12.500000" both give
 * "-12.500000". NULL gives "0.000000": LANBilling declares its money columns NOT NULL DEFAULT 0,
 * so a NULL can only come from a hand-made replica and means the same thing.
 */
export function money(v: unknown, column: string): string {
  if (v === null || v === undefined) return `0.${'0'.repeat(MONEY_SCALE)}`;
  if (typeof v !== 'string') {
    // a number here means the driver was configured to parse decimals as floats: refuse, never round
    throw new TypeError(`${column}: expected the decimal as a string, got ${typeof v}`);
  }
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(v.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new TypeError(`${column}: not a decimal: "${v}"`);
  const whole = (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
  let frac = (m[3] ?? '').padEnd(MONEY_SCALE, '0');
  // Keep digits beyond the scale only when they carry value: precision is never dropped.
  frac = frac.slice(0, MONEY_SCALE) + frac.slice(MONEY_SCALE).replace(/0+$/, '');
  const zero = /^0+$/.test(whole + frac);
  const sign = m[1] === '-' && !zero ? '-' : '';
  return `${sign}${whole}.${frac}`;
}

/** tinyint flags (`archive`, …): anything but 0 is set. */
export function flag(v: unknown): boolean {
  return v === true || (typeof v === 'number' && v !== 0);
}

/** Integer columns; bigints arrive as strings (count(*), a replica's bigint keys). */
export function int(v: unknown, column: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n))
    throw new TypeError(`${column}: not an integer: ${String(v)}`);
  return n;
}

/** Free text that may be padded or empty (`accounts.email`): trimmed, empty = null. */
export function trimmedOrNull(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const s = String(v).trim();
  return s === '' ? null : s;
}

/** Nullable text kept exactly as stored. */
export function textOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}
