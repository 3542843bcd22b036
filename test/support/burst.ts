// A burst of small billing changes on the layout-1 sample accounts, as the billing core and
// operators make them: blocks and unblocks, balance changes, additional services assigned and
// stopped. Each change is its own transaction; a few connections write in parallel. Seeded, so a
// failing run can be replayed. No vitest imports: the benchmark uses it too.
import type { Knex } from 'knex';
import { sqlDateTime } from '../../src/billing/sql-time.js';
import { BlockCode } from '../../src/billing/types.js';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { seededRandom } from '../fixture/random.js';
import { SAMPLE } from '../fixture/sample.js';

const A = SAMPLE.accounts;
/** layout-1 accounts whose data maps cleanly (no conflicts or mapping issues) */
export const BURST_ACCOUNTS = [
  A.svcBasic,
  A.svcBlockedBalance,
  A.svcBlockedUser,
  A.svcBlockedAdmin,
  A.svcExpired,
  A.svcFuture,
  A.svcStopped,
  A.svcNoEmail,
];
const ADDITIONAL = ['5010', '5011', '5012', '5013'] as const;
const BLOCKS = [
  BlockCode.active,
  BlockCode.active,
  BlockCode.balance,
  BlockCode.user,
  BlockCode.admin,
  BlockCode.switchedOff,
];

export interface BurstOptions {
  changes: number;
  seed?: number;
  /** parallel writers */
  writers?: number;
  /** called after each committed change with its index */
  onChange?: (i: number) => void;
  accounts?: readonly { vgId: number; agrmId: number }[];
}

export async function billingBurst(knex: Knex, opts: BurstOptions): Promise<void> {
  const rnd = seededRandom(opts.seed ?? 1);
  const accounts = opts.accounts ?? BURST_ACCOUNTS;
  const plan = Array.from({ length: opts.changes }, () => ({
    account: rnd.pick(accounts),
    kind: rnd.int(0, 2),
    r: rnd.next(),
    offer: rnd.pick(ADDITIONAL),
  }));
  // Each account is written by one writer only, in plan order, as one operator edits one account:
  // two writers racing "close it, or insert it if there was none" on the same row would deadlock
  // each other on InnoDB's gap locks, which is the test's doing, not the billing's.
  const writers = opts.writers ?? 4;
  const owner = (step: (typeof plan)[number]) =>
    (accounts as readonly { vgId: number }[]).findIndex((a) => a.vgId === step.account.vgId) % writers;
  const writer = async (w: number) => {
    for (let i = 0; i < plan.length; i++) {
      const step = plan[i]!;
      if (owner(step) !== w) continue;
      await retryDeadlock(() => applyStep(step));
      opts.onChange?.(i);
    }
  };
  const applyStep = async (step: (typeof plan)[number]) => {
    {
      const { account, kind, r, offer } = step;
      if (kind === 0) {
        await knex('vgroups')
          .where({ vg_id: account.vgId })
          .update({ blocked: BLOCKS[Math.floor(r * BLOCKS.length)] });
      } else if (kind === 1) {
        await knex('agreements')
          .where({ agrm_id: account.agrmId })
          .update({ balance: (Math.round(r * 200_000) / 100 - 500).toFixed(2) });
      } else {
        const idx = categoryIdx(TARIFFS.tvServices, offer);
        const open = {
          vg_id: account.vgId,
          tar_id: TARIFFS.tvServices,
          serv_cat_idx: idx,
          timeto: '9999-12-31 23:59:59',
        };
        const closed = await knex('services')
          .where(open)
          .update({ timeto: sqlDateTime(new Date(Date.now() - 1000)) });
        if (closed === 0)
          await knex('services').insert({
            ...open,
            timefrom: sqlDateTime(new Date(Date.now() - 1000)),
            state: 3,
          });
      }
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
}

/**
 * InnoDB may pick any of two writers on neighbouring index gaps (two accounts' services rows) as a
 * deadlock victim; a billing application retries such a statement, and so does the burst.
 */
async function retryDeadlock(step: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      const code = (err as { code?: string; errno?: number }).code;
      if ((code !== 'ER_LOCK_DEADLOCK' && code !== '40P01') || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 20 * attempt));
    }
  }
}
