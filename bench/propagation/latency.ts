// Change committed → platform call, at a steady rate. Each change is one agreements.balance UPDATE
// of one account (its own transaction), with a balance no other change uses; it is matched to the
// account-state push that carries that balance. Commit time = when the UPDATE returned to the
// writer; call time = when the simulator received the call (same machine, same clock). Changes
// walk the accounts round-robin, so no account is "hot" (changed twice within the spacing).
import { percentile, type Rig } from './rig.js';

export interface LatencyResult {
  ratePerSecond: number;
  changes: number;
  matched: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export async function measureLatency(
  rig: Rig,
  ratePerSecond: number,
  seconds: number,
): Promise<LatencyResult> {
  const n = ratePerSecond * seconds;
  const since = await rig.lastSeq();
  const committed = new Map<string, number>();
  const t0 = Date.now() + 100;
  const writes: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const account = rig.accounts[i % rig.accounts.length]!;
    // 7,000.01 + i/100: unique per change, in kopecks 700001 + i
    const balance = (7000.01 + i / 100).toFixed(2);
    const due = t0 + (i * 1000) / ratePerSecond;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    writes.push(
      rig
        .knex('agreements')
        .where({ agrm_id: account.agrmId })
        .update({ balance })
        .then(() => {
          committed.set(`${account.username} ${700001 + i}`, Date.now());
        }),
    );
  }
  await Promise.all(writes);
  const latencies: number[] = [];
  const end = Date.now() + 30_000;
  while (latencies.length < n && Date.now() < end) {
    latencies.length = 0;
    const { calls } = await rig.calls(since);
    for (const c of calls) {
      if (c.route !== 'POST /accounts/v3/:id/account-state' || c.status !== 200) continue;
      const body = c.body as { balance: number };
      const id = decodeURIComponent(c.path.split('/')[3] ?? '');
      const username = usernames.get(id) ?? (await resolveUsernames(rig)).get(id);
      const at = committed.get(`${username} ${body.balance}`);
      if (at !== undefined) latencies.push(c.at - at);
    }
    if (latencies.length < n) await new Promise((r) => setTimeout(r, 200));
  }
  latencies.sort((a, b) => a - b);
  return {
    ratePerSecond,
    changes: n,
    matched: latencies.length,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? Number.NaN,
  };
}

const usernames = new Map<string, string>();
async function resolveUsernames(rig: Rig): Promise<Map<string, string>> {
  const r = (await (await fetch(`${rig.simUrl}/_simulator/accounts`)).json()) as {
    accounts: { id: string; username: string }[];
  };
  for (const a of r.accounts) usernames.set(a.id, a.username);
  return usernames;
}
