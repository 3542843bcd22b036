// 1,000 changes to one account within about a second: how many reconciles does it cost? Counted
// from the platform's side: every reconcile reads the account (GET /v2/accounts/{id}) once.
// Writers in parallel, one UPDATE per transaction; the burst's real duration is reported with it.
import { drained, type Rig } from './rig.js';

export interface HotAccountResult {
  changes: number;
  perTransaction: number;
  burstMs: number;
  reconciles: number;
  statePushes: number;
  finalBalanceOnPlatform: number | null;
  finalBalanceInBilling: number;
}

/**
 * `perTransaction`: UPDATEs per transaction. 1 = 1,000 commits, which this machine's databases
 * can't always fit in a second; 10 = 100 commits of 10 row changes each, so the burst does.
 */
export async function measureHotAccount(
  rig: Rig,
  perTransaction = 1,
  changes = 1000,
  writers = 16,
): Promise<HotAccountResult> {
  const account = rig.accounts[perTransaction === 1 ? 0 : 1]!;
  await drained(rig);
  const id = (
    (await (await fetch(`${rig.simUrl}/_simulator/accounts`)).json()) as {
      accounts: { id: string; username: string }[];
    }
  ).accounts.find((a) => a.username === account.username)!.id;
  const since = await rig.lastSeq();
  let next = 0;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let t = next++; t * perTransaction < changes; t = next++) {
        await rig.knex.transaction(async (trx) => {
          for (let i = t * perTransaction; i < Math.min(changes, (t + 1) * perTransaction); i++) {
            await trx('agreements')
              .where({ agrm_id: account.agrmId })
              .update({ balance: (9000 + i / 100).toFixed(2) });
          }
        });
      }
    }),
  );
  const burstMs = Date.now() - t0;
  await drained(rig);
  const { calls } = await rig.calls(since);
  const mine = calls.filter((c) => c.path.includes(`/${id}`));
  const pushes = mine.filter((c) => c.route === 'POST /accounts/v3/:id/account-state');
  const finalRow = await rig.knex('agreements').where({ agrm_id: account.agrmId }).first('balance');
  const last = pushes.at(-1)?.body as { balance: number } | undefined;
  return {
    changes,
    perTransaction,
    burstMs,
    reconciles: mine.filter((c) => c.method === 'GET').length,
    statePushes: pushes.length,
    finalBalanceOnPlatform: last ? last.balance / 100 : null,
    finalBalanceInBilling: Number(finalRow?.balance),
  };
}
