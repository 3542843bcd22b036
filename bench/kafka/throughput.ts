// Sustained changes per second in debezium mode: every account's balance changes, written the way
// the billing core writes a charging run (multi-row UPDATEs of `chunk` accounts, as fast as the
// database takes them), `rounds` times over with a new value each round. Two rates:
//   ingest:      row changes the consumer group read and queued per second (commit → <prefix>pending)
//   end to end:  from the first write to the last account-state push carrying its account's final
//                value (every account must end on it): row changes per second, and accounts per
//                second (one account's changes coalesce into fewer reconciles)
import type { Rig } from '../propagation/rig.js';

export interface DebeziumThroughput {
  accounts: number;
  rounds: number;
  rowChanges: number;
  writeMs: number;
  ingestMs: number;
  ingestChangesPerSecond: number;
  totalMs: number;
  /** row changes per second, first write → last platform call */
  rowChangesPerSecond: number;
  /** accounts brought to their final state per second (their changes coalesce) */
  accountChangesPerSecond: number;
  /** accounts whose last push carries the final value (must equal accounts) */
  matched: number;
  reconciles: number;
}

export async function measureDebeziumThroughput(
  rig: Rig,
  rounds = 2,
  chunk = 500,
): Promise<DebeziumThroughput> {
  const stats = () => rig.service.debezium!.stats();
  const since = await rig.lastSeq();
  const changesBefore = stats().changes;
  const reconciledBefore = rig.service.queue.stats().reconciled;
  const ids = rig.accounts.map((a) => a.agrmId);
  const finalKopecks = 810_000 + rounds;
  const t0 = Date.now();
  for (let round = 1; round <= rounds; round++) {
    const balance = ((810_000 + round) / 100).toFixed(2);
    for (let i = 0; i < ids.length; i += chunk)
      await rig
        .knex('agreements')
        .whereIn('agrm_id', ids.slice(i, i + chunk))
        .update({ balance });
  }
  const writeMs = Date.now() - t0;
  const rowChanges = ids.length * rounds;
  const deadline = Date.now() + 300_000;
  while (stats().changes - changesBefore < rowChanges) {
    if (Date.now() > deadline)
      throw new Error(
        `the consumer read ${stats().changes - changesBefore} of ${rowChanges} changes in 300 s`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
  const ingestMs = Date.now() - t0;

  const wanted = new Set(rig.accounts.map((a) => a.username));
  const usernames = new Map<string, string>();
  for (const a of (
    (await (await fetch(`${rig.simUrl}/_simulator/accounts`)).json()) as {
      accounts: { id: string; username: string }[];
    }
  ).accounts) {
    usernames.set(a.id, a.username);
  }
  let matched = 0;
  let end = t0;
  while (Date.now() < deadline) {
    const { calls } = await rig.calls(since);
    const last = new Map<string, { at: number; balance: number }>();
    for (const c of calls) {
      if (c.route !== 'POST /accounts/v3/:id/account-state' || c.status !== 200) continue;
      const username = usernames.get(decodeURIComponent(c.path.split('/')[3] ?? ''));
      if (username && wanted.has(username))
        last.set(username, { at: c.at, balance: (c.body as { balance: number }).balance });
    }
    const finals = [...last.values()].filter((v) => v.balance === finalKopecks);
    matched = finals.length;
    end = Math.max(t0, ...finals.map((v) => v.at));
    if (matched === ids.length && (await rig.service.pending.count()) === 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    accounts: ids.length,
    rounds,
    rowChanges,
    writeMs,
    ingestMs,
    ingestChangesPerSecond: Math.round((rowChanges * 1000) / ingestMs),
    totalMs: end - t0,
    rowChangesPerSecond: Math.round((rowChanges * 1000) / (end - t0)),
    accountChangesPerSecond: Math.round((matched * 1000) / (end - t0)),
    matched,
    reconciles: rig.service.queue.stats().reconciled - reconciledBefore,
  };
}
