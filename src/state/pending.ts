// The durable per-account queue (<prefix>pending, migration 002): which accounts must be
// reconciled, since when, and not before when. One row per account: a burst of changes bumps its
// `seq` instead of adding rows, and a worker deletes the row only if `seq` is still what it saw
// when it started, so a change that lands during a reconcile is never lost.
//
// Multi-row upserts are written in vg_id order: two writers (the change-log reader and the timer
// loop) then take row locks in the same order and can't deadlock each other.
import type { Knex } from 'knex';

export interface PendingEntry {
  vgId: number;
  /** a billing table name, or `timer` */
  reason: string;
  /** where the change came from (change-log position), for the park record */
  source: string | null;
}

export interface PendingAccount extends PendingEntry {
  seq: number;
  attempts: number;
}

const CHUNK = 1000;

export class PendingStore {
  readonly table: string;
  private readonly accounts: string;

  constructor(
    private readonly knex: Knex,
    prefix: string,
    private readonly dialect: 'pg' | 'mysql',
  ) {
    this.table = `${prefix}pending`;
    this.accounts = `${prefix}accounts`;
  }

  /**
   * Queues accounts (in `db`: the caller's transaction, so that queuing commits together with
   * whatever it acknowledges). A new row waits `debounceMs`; an account already queued keeps its
   * time (neither postponed by a stream of changes nor hurried out of a back-off).
   */
  async enqueue(
    db: Knex | Knex.Transaction,
    entries: PendingEntry[],
    at: Date,
    debounceMs = 0,
  ): Promise<void> {
    const unique = new Map<number, PendingEntry>();
    for (const e of entries) unique.set(e.vgId, e);
    const sorted = [...unique.values()].sort((a, b) => a.vgId - b.vgId);
    const notBefore = new Date(at.getTime() + debounceMs);
    const merge =
      this.dialect === 'pg'
        ? {
            seq: this.knex.raw('??.seq + 1', [this.table]),
            reason: this.knex.raw('excluded.reason'),
            source: this.knex.raw('excluded.source'),
          }
        : {
            seq: this.knex.raw('seq + 1'),
            reason: this.knex.raw('VALUES(reason)'),
            source: this.knex.raw('VALUES(source)'),
          };
    for (let i = 0; i < sorted.length; i += CHUNK) {
      const rows = sorted.slice(i, i + CHUNK).map((e) => ({
        vg_id: e.vgId,
        seq: 1,
        reason: e.reason.slice(0, 64),
        source: e.source?.slice(0, 255) ?? null,
        attempts: 0,
        not_before: notBefore,
        enqueued_at: at,
      }));
      await db(this.table).insert(rows).onConflict('vg_id').merge(merge);
    }
  }

  /** Accounts due at `at`, earliest first. */
  async due(at: Date, limit: number): Promise<PendingAccount[]> {
    const rows = await this.knex(this.table)
      .select('vg_id', 'seq', 'reason', 'source', 'attempts')
      .where('not_before', '<=', at)
      .orderBy([{ column: 'not_before' }, { column: 'vg_id' }])
      .limit(limit);
    return rows.map((r) => ({
      vgId: Number(r.vg_id),
      seq: Number(r.seq),
      reason: String(r.reason),
      source: r.source ?? null,
      attempts: Number(r.attempts),
    }));
  }

  /**
   * Of these accounts, the rows still due at `at`, as they are now. With several instances on the
   * table (debezium mode) the queue reads its batch again once it holds the accounts' locks:
   * another instance may have reconciled and deleted a row, or bumped its seq, since it was listed.
   */
  async dueOf(vgIds: number[], at: Date): Promise<PendingAccount[]> {
    if (vgIds.length === 0) return [];
    const rows = await this.knex(this.table)
      .select('vg_id', 'seq', 'reason', 'source', 'attempts')
      .whereIn('vg_id', vgIds)
      .where('not_before', '<=', at);
    return rows.map((r) => ({
      vgId: Number(r.vg_id),
      seq: Number(r.seq),
      reason: String(r.reason),
      source: r.source ?? null,
      attempts: Number(r.attempts),
    }));
  }

  /**
   * The account was reconciled as of `seq`. True = done (row deleted). False = it changed again
   * meanwhile: it stays queued, not before `notBefore` (spacing of a hot account).
   */
  async finish(vgId: number, seq: number, notBefore: Date): Promise<boolean> {
    const [done] = await this.finishMany([{ vgId, seq, notBefore }]);
    return done!;
  }

  /**
   * finish() for many accounts in two statements: one DELETE of the rows whose seq is unchanged,
   * then a look at which of them are still there (changed meanwhile, or queued again just after).
   * Answers in the order asked.
   */
  async finishMany(items: { vgId: number; seq: number; notBefore: Date }[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    const sorted = [...items].sort((a, b) => a.vgId - b.vgId);
    const pairs = sorted.map(() => '(?, ?)').join(', ');
    await this.knex(this.table)
      .whereRaw(
        `(vg_id, seq) IN (${pairs})`,
        sorted.flatMap((i) => [i.vgId, i.seq]),
      )
      .delete();
    const left = new Set(
      (
        await this.knex(this.table)
          .whereIn(
            'vg_id',
            sorted.map((i) => i.vgId),
          )
          .select('vg_id')
      ).map((r) => Number(r.vg_id)),
    );
    for (const i of sorted) {
      if (!left.has(i.vgId)) continue;
      await this.knex(this.table)
        .where({ vg_id: i.vgId })
        .update({ attempts: 0, last_error: null, not_before: i.notBefore });
    }
    return items.map((i) => !left.has(i.vgId));
  }

  /**
   * A run starts: attempts + 1, undone only by the run completing (finish). A row found with
   * attempts > 0 was left by a run that crashed or failed.
   */
  async markStarted(vgIds: number[]): Promise<void> {
    if (vgIds.length === 0) return;
    const sorted = [...vgIds].sort((x, y) => x - y);
    await this.knex(this.table).whereIn('vg_id', sorted).increment('attempts', 1);
  }

  /** Not before `notBefore` (spacing of a hot account). */
  async postpone(vgId: number, notBefore: Date): Promise<void> {
    await this.knex(this.table).where({ vg_id: vgId }).update({ not_before: notBefore });
  }

  /** A transient failure: try again at `notBefore`; `attempts` = runs started without completing. */
  async retryLater(vgId: number, attempts: number, notBefore: Date, error: string): Promise<void> {
    await this.knex(this.table)
      .where({ vg_id: vgId })
      .update({ attempts, not_before: notBefore, last_error: error.slice(0, 2000) });
  }

  /** The earliest not_before after `at`: when the queue next has work, if nothing arrives (diagnostics). */
  async nextDue(at: Date): Promise<Date | null> {
    const row = await this.knex(this.table).where('not_before', '>', at).min({ at: 'not_before' }).first();
    return row?.at ? new Date(row.at) : null;
  }

  async count(): Promise<number> {
    const [row] = await this.knex(this.table).count({ n: '*' });
    return Number(row?.n ?? 0);
  }

  async get(vgId: number): Promise<(PendingAccount & { notBefore: Date; lastError: string | null }) | null> {
    const r = await this.knex(this.table).where({ vg_id: vgId }).first();
    if (!r) return null;
    return {
      vgId: Number(r.vg_id),
      seq: Number(r.seq),
      reason: String(r.reason),
      source: r.source ?? null,
      attempts: Number(r.attempts),
      notBefore: new Date(r.not_before),
      lastError: r.last_error ?? null,
    };
  }

  /**
   * Timers: queues the accounts whose `next_at` has come and clears it, in one transaction, so a
   * crash can't lose a due timer and a cleared timer doesn't fire again until the reconcile stores
   * the next one. A next_at stored meanwhile by a reconcile (later than `at`) is left alone.
   */
  async enqueueDueTimers(at: Date, limit: number): Promise<number> {
    return this.knex.transaction(async (trx) => {
      const rows = await trx(this.accounts)
        .select('vg_id')
        .where('next_at', '<=', at)
        .orderBy('next_at')
        .limit(limit);
      const ids = rows.map((r) => Number(r.vg_id)).sort((a, b) => a - b);
      if (ids.length === 0) return 0;
      await this.enqueue(
        trx,
        ids.map((vgId) => ({ vgId, reason: 'timer', source: null })),
        at,
      );
      await trx(this.accounts).whereIn('vg_id', ids).where('next_at', '<=', at).update({ next_at: null });
      return ids.length;
    });
  }
}
