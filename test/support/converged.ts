// Does the platform (the simulator) hold what the billing says, account by account? Compares the
// desired state computed from the billing right now with the simulator's accounts directly, not
// through the service's own records, so a lost change shows up. Accounts the billing itself
// can't map cleanly (issues), parked ones and vgroups sharing a platform username (a login is
// unique per agent only) are left out: the sample has some of each on purpose.
import type { App } from '../../src/app.js';
import { billingReader } from '../../src/billing/read.js';
import type { Simulator } from '../../src/smotreshka/simulator/index.js';
import { SAMPLE } from '../fixture/sample.js';

export async function differences(
  app: App,
  sim: Simulator,
  vgIds: readonly number[] = SAMPLE.liveVgIds,
): Promise<string[]> {
  const now = new Date();
  const accounts = await billingReader(app.knex, app.clock).loadAccounts([...vgIds], now);
  const parked = await app.store.parkedIds();
  const out: string[] = [];
  const desiredAll = accounts.map((a) => app.reconciler.desired(a, now));
  const shared = new Set(desiredAll.map((d) => d.username).filter((u, i, all) => all.indexOf(u) !== i));
  for (const desired of desiredAll) {
    if (parked.has(desired.vgId) || desired.issues.length > 0 || shared.has(desired.username)) continue;
    const actual = sim.store.byName(desired.username);
    if (!actual || actual.archived) {
      if (desired.entitled) out.push(`${desired.username}: missing on the platform`);
      continue;
    }
    const subs = [...actual.subscriptions].sort().join(',');
    if (subs !== desired.subscriptions.join(','))
      out.push(`${desired.username}: platform [${subs}], billing [${desired.subscriptions.join(',')}]`);
    const s = actual.state;
    const d = desired.state;
    if (!s || s.balance !== d.balance || s.status !== d.status || s.tvSuspended !== d.tvSuspended) {
      out.push(
        `${desired.username}: platform state ${JSON.stringify(s ? { b: s.balance, s: s.status, t: s.tvSuspended } : null)}, billing ${JSON.stringify({ b: d.balance, s: d.status, t: d.tvSuspended })}`,
      );
    }
  }
  return out;
}
