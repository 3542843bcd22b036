// Sustained account changes per second: the balance of every account changes, written the way
// the billing core writes a charging run (multi-row UPDATEs, `chunk` accounts per statement and
// transaction, as fast as the database takes them); measured from the first write to the last
// account-state push received. Also checks that each account's last push carries its final value.
import { drained, type Rig } from './rig.js';

export interface ThroughputResult {
  accounts: number;
  writeMs: number;
  totalMs: number;
  accountChangesPerSecond: number;
  matched: number;
  reconciles: number;
}

export async function measureThroughput(rig: Rig, chunk = 500): Promise<ThroughputResult> {
  const since = await rig.lastSeq();
  const reconciledBefore = rig.service.queue.stats().reconciled;
  const ids = rig.accounts.map((a) => a.agrmId);
  const t0 = Date.now();
  for (let i = 0; i < ids.length; i += chunk) {
    // 8,000.00 for everyone: one value, so the last push of each account must carry it
    await rig
      .knex('agreements')
      .whereIn('agrm_id', ids.slice(i, i + chunk))
      .update({ balance: '8000.00' });
  }
  const writeMs = Date.now() - t0;
  await drained(rig);
  const { calls } = await rig.calls(since);
  const last = new Map<string, { at: number; balance: number }>();
  for (const c of calls) {
    if (c.route !== 'POST /accounts/v3/:id/account-state' || c.status !== 200) continue;
    last.set(c.path, { at: c.at, balance: (c.body as { balance: number }).balance });
  }
  const finals = [...last.values()].filter((v) => v.balance === 800000);
  const end = Math.max(...finals.map((v) => v.at));
  return {
    accounts: ids.length,
    writeMs,
    totalMs: end - t0,
    accountChangesPerSecond: Math.round((finals.length * 1000) / (end - t0)),
    matched: finals.length,
    reconciles: rig.service.queue.stats().reconciled - reconciledBefore,
  };
}
