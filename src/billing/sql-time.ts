// DATETIME parameters for the service's own tables (<prefix>*), which keep UTC: 'YYYY-MM-DD
// HH:MM:SS' of the instant in UTC. LANBilling's own tables keep the billing's wall clock instead:
// their values go through clock.ts (BillingClock.toWall), never through here.
//
// Why not pass a JS Date: node-postgres serialises a Date in the *process's* local zone with an
// offset ("…T04:30:00+03:00"), and a `timestamp without time zone` comparison silently drops the
// offset, so results would depend on the TZ of the machine. Milliseconds are cut because the
// columns have none, and the servers disagree on rounding them (MySQL rounds, MariaDB truncates).
import { UTC_CLOCK } from './clock.js';

export function sqlDateTime(d: Date): string {
  return UTC_CLOCK.toWall(d);
}
