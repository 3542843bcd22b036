// doctor's look at the billing's clock: which zone the service reads and writes LANBilling's
// DATETIMEs in, where that came from, and whether the database's NOW() (its wall clock, read in
// that zone) is the service's own now. Hours apart means the zone is wrong (billing.timeZone, or
// the server's own setting); seconds apart, that one of the two machines' clocks is off. Pure.
import type { BillingClock } from '../billing/clock.js';

/** Beyond this the two clocks are said to disagree. */
export const CLOCK_TOLERANCE_MS = 5_000;

export interface ClockCheck {
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

function seconds(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 120) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.round((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min`;
}

export function clockCheck(
  clock: BillingClock,
  source: string,
  databaseWall: string | null,
  serviceNow: Date,
): ClockCheck {
  const zone = `${clock.zone} (${source})`;
  if (databaseWall === null) {
    return {
      status: 'warn',
      detail: `${zone}; the database can't tell its NOW() in its default zone (time zone tables not loaded?)`,
    };
  }
  const dbNow = clock.fromWall(databaseWall, 'NOW()');
  if (dbNow === null) return { status: 'warn', detail: `${zone}; the database's NOW() is '${databaseWall}'` };
  const diff = dbNow.getTime() - serviceNow.getTime();
  const said =
    `${zone}; the database's NOW() is ${databaseWall} there = ${clock.rfc3339(dbNow)}, ` +
    `the service's clock ${clock.rfc3339(serviceNow)}`;
  if (Math.abs(diff) <= CLOCK_TOLERANCE_MS)
    return { status: 'ok', detail: `${said}: ${seconds(diff)} apart` };
  const configured = source.startsWith('billing.timeZone');
  const hint =
    Math.abs(diff) < 15 * 60_000
      ? ' — one of the two machines has a wrong clock: check NTP on the database server and here'
      : configured
        ? " — the database's own zone is not billing.timeZone: right only if the billing's application sets its sessions' zone itself; otherwise correct billing.timeZone (or remove it to use the database's zone)"
        : " — the database's zone was misread: set billing.timeZone to the zone of the billing's wall clock";
  return {
    status: 'warn',
    detail: `${said}: the database is ${seconds(diff)} ${diff > 0 ? 'ahead' : 'behind'}${hint}`,
  };
}
