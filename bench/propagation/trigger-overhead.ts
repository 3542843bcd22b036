// What the capture triggers cost the billing's own writes: the same write workload with and without
// them (the service not running, so only the triggers and their change-log rows are measured).
// Alternating runs (without, with, without, with), the best of each kept.
// - transactions: single-row UPDATE/INSERT transactions from one connection, as the billing core's
//   day-to-day edits come. On this machine a durable commit costs ~5 ms of fsync, which dwarfs a
//   trigger, so PostgreSQL also runs it with synchronous_commit off (the triggers' CPU cost alone).
// - updates4: single-row UPDATE transactions from 4 connections at once (the design's target
//   workload: concurrent commits are where a per-commit cost such as NOTIFY's global lock shows).
// - bulk: a charging run, 5,000 agreements' balances in one statement: the worst case for row
//   triggers (every row captured).
// Both write captured columns only: an update of a column the service doesn't read skips the
// trigger's work and would flatter the figures.
import type { Knex } from 'knex';
import { captureNames, installTriggerCapture, removeTriggerCapture } from '../../migrations/capture/index.js';
import { sqlDateTime } from '../../src/billing/sql-time.js';
import type { Rig } from './rig.js';

export interface OverheadFigure {
  withoutMs: number;
  withMs: number;
  /** with / without */
  ratio: number;
}

async function transactions(knex: Knex, rig: Rig, n: number, asyncCommit: boolean): Promise<number> {
  const accounts = rig.accounts;
  {
    const conn = await knex.client.acquireConnection();
    const run = (sql: string, b: unknown[] = []) => knex.raw(sql, b as Knex.RawBinding[]).connection(conn);
    try {
      if (asyncCommit) await run('SET synchronous_commit = off');
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const a = accounts[i % accounts.length]!;
        switch (i % 4) {
          case 0:
            await run('UPDATE agreements SET balance = ? WHERE agrm_id = ?', [
              (i % 997).toFixed(2),
              a.agrmId,
            ]);
            break;
          case 1:
            await run('UPDATE vgroups SET blocked = ? WHERE vg_id = ?', [i % 8 === 1 ? 3 : 0, a.vgId]);
            break;
          case 2:
            await run(
              'INSERT INTO services (vg_id, tar_id, serv_cat_idx, timefrom, state) VALUES (?, 10, 5, ?, 1)',
              [a.vgId, sqlDateTime(new Date())],
            );
            break;
          default:
            // a captured column, so the trigger writes (an uncaptured one would be skipped)
            await run('UPDATE services SET timeto = ? WHERE vg_id = ? AND timeto > ?', [
              i % 8 === 3 ? '9999-12-31 23:59:59' : '9999-12-31 23:59:58',
              a.vgId,
              '9000-01-01 00:00:00',
            ]);
        }
      }
      return performance.now() - t0;
    } finally {
      if (asyncCommit) await run('SET synchronous_commit = on').catch(() => undefined);
      await knex.client.releaseConnection(conn);
    }
  }
}

/** Single-row UPDATE transactions (balance, block) from `clients` connections at once, `n` in all. */
async function concurrentUpdates(knex: Knex, rig: Rig, n: number, clients: number): Promise<number> {
  const accounts = rig.accounts;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const conn = await knex.client.acquireConnection();
      const run = (sql: string, b: unknown[]) => knex.raw(sql, b as Knex.RawBinding[]).connection(conn);
      try {
        // each client its own accounts: the figure is the triggers' cost, not row-lock waits
        for (let i = c; i < n; i += clients) {
          const a = accounts[i % accounts.length]!;
          if (i % 2 === 0)
            await run('UPDATE agreements SET balance = ? WHERE agrm_id = ?', [
              (i % 997).toFixed(2),
              a.agrmId,
            ]);
          else await run('UPDATE vgroups SET blocked = ? WHERE vg_id = ?', [i % 4 === 1 ? 3 : 0, a.vgId]);
        }
      } finally {
        await knex.client.releaseConnection(conn);
      }
    }),
  );
  return performance.now() - t0;
}

/** A charging run: `rows` agreements' balances in one statement, `rounds` times. */
async function bulk(knex: Knex, rows: number, rounds: number): Promise<number> {
  const [last] = await knex('agreements')
    .orderBy('agrm_id')
    .offset(rows - 1)
    .limit(1)
    .pluck('agrm_id');
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++)
    await knex('agreements')
      .where('agrm_id', '<=', last)
      .update({ balance: knex.raw('balance - 0.01') });
  return performance.now() - t0;
}

async function compare(rig: Rig, measure: () => Promise<number>): Promise<OverheadFigure> {
  const ctx = rig.app.migration;
  const without: number[] = [];
  const withT: number[] = [];
  for (let round = 0; round < 2; round++) {
    await removeTriggerCapture(rig.knex, ctx);
    without.push(await measure());
    await installTriggerCapture(rig.knex, ctx);
    withT.push(await measure());
    await rig.knex(captureNames(ctx.prefix).changes).delete();
  }
  const withoutMs = Math.min(...without);
  const withMs = Math.min(...withT);
  return {
    withoutMs: Math.round(withoutMs),
    withMs: Math.round(withMs),
    ratio: Number((withMs / withoutMs).toFixed(3)),
  };
}

export async function measureTriggerOverhead(
  rig: Rig,
): Promise<Record<string, OverheadFigure & { workload: string }>> {
  await rig.service.stop();
  const [{ n }] = (await rig.knex('agreements').count({ n: '*' })) as [{ n: number | string }];
  const bulkRows = Math.min(5_000, Number(n));
  const out: Record<string, OverheadFigure & { workload: string }> = {
    transactions: {
      workload: '1,000 single-row transactions, one connection',
      ...(await compare(rig, () => transactions(rig.knex, rig, 1000, false))),
    },
    updates4: {
      workload: '2,000 single-row UPDATE transactions from 4 connections at once',
      ...(await compare(rig, () => concurrentUpdates(rig.knex, rig, 2000, 4))),
    },
    bulk: {
      workload: `UPDATE of ${bulkRows} agreements' balances in one statement, x3`,
      ...(await compare(rig, () => bulk(rig.knex, bulkRows, 3))),
    },
  };
  if (rig.dialect === 'pg') {
    out.transactionsNoFsync = {
      workload: '1,000 single-row transactions, synchronous_commit off (CPU cost without fsync)',
      ...(await compare(rig, () => transactions(rig.knex, rig, 1000, true))),
    };
  }
  return out;
}
