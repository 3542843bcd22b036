// DATETIME parameters for billing queries, written as 'YYYY-MM-DD HH:MM:SS' in UTC.
//
// Why not pass a JS Date: node-postgres serialises a Date in the *process's* local zone with an
// offset ("…T04:30:00+03:00"), and a `timestamp without time zone` comparison silently drops the
// offset, so results would depend on the TZ of the machine. A plain UTC string means the same
// wall-clock value on both dialects (connect.ts reads DATETIMEs back as UTC). Milliseconds are
// cut because the billing's columns have none, and the servers disagree on rounding them
// (MySQL rounds, MariaDB truncates).
export function sqlDateTime(d: Date): string {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('sqlDateTime: invalid Date');
  return new Date(ms - (((ms % 1000) + 1000) % 1000)).toISOString().slice(0, 19).replace('T', ' ');
}
