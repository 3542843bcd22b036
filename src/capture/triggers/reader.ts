// Reads the change log written by the capture triggers and turns it into queued accounts.
//
// Why no row is ever skipped, on both dialects: the reader keeps no position. The change log holds
// exactly the changes not yet handled; each batch reads the oldest rows *visible now* and, in the
// same transaction, queues their accounts (<prefix>pending) and deletes them. A transaction that
// took a lower id but commits after a higher one was read is simply not visible yet: its rows stay
// in the table and are read by a later batch. The classic hazard ("read by a growing id, remember
// the last id, miss the late committer") needs a cursor; deleting what was handled has none. So the
// PostgreSQL xmin horizon (xid8 < pg_snapshot_xmin) isn't needed for correctness; the txid column
// stays for diagnostics. On MySQL/InnoDB each batch is a new transaction and its consistent read
// sees every row committed before it, so the same argument holds under REPEATABLE READ.
//
// One reader runs per database (the instance holding the leader lock, src/state/leader.ts). Were
// two to overlap for a moment, both would queue the same accounts, which the queue coalesces, and
// the second delete would find nothing: duplicates, never loss.
//
// The billing's own writers must never wait for the reader. On MySQL/MariaDB the batch runs in READ
// COMMITTED: under the default REPEATABLE READ, InnoDB's DELETE takes next-key locks, which can
// block the triggers' inserts at the end of the change log. In READ COMMITTED it locks only the
// rows it deletes, which no one else touches. (PostgreSQL takes no such locks.)
//
// Acknowledging = deleting the rows, in the transaction that queues their accounts: nothing is
// acknowledged before it is durably queued. A failure (database gone, deadlock) rolls the batch
// back, the rows stay, and the reader retries with back-off.
import type { Knex } from 'knex';
import type { Logger } from '../../log.js';
import type { ChangeLog } from '../../state/changelog.js';
import type { PendingStore } from '../../state/pending.js';
import { type Fanout, translate } from '../translate.js';

export interface ReaderOptions {
  /** change-log rows per transaction */
  batchSize: number;
  /** how often the table is read without a wake-up: the safety net on PostgreSQL, the mechanism on MySQL */
  pollIntervalMs: number;
  /** a newly queued account waits this long, so that a change spread over several transactions coalesces */
  debounceMs: number;
}

export interface ReaderStats {
  batches: number;
  changes: number;
  lastBatchAt: Date | null;
  lastError: string | null;
  failing: boolean;
}

const MAX_RETRY_MS = 30_000;

export class ChangeLogReader {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private failures = 0;
  private retryAt = 0;
  private readonly counters: ReaderStats = {
    batches: 0,
    changes: 0,
    lastBatchAt: null,
    lastError: null,
    failing: false,
  };

  constructor(
    private readonly deps: {
      knex: Knex;
      changelog: ChangeLog;
      pending: PendingStore;
      fanout: Fanout;
      logger: Logger;
      /** called after accounts were queued (wakes the queue in this process) */
      onQueued: () => void;
      options: ReaderOptions;
      now?: () => Date;
    },
  ) {}

  /** Starts polling and catches up on whatever accumulated while nobody read. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.failures = 0;
    this.retryAt = 0;
    this.timer = setInterval(() => this.wake(), this.deps.options.pollIntervalMs);
    this.timer.unref();
    this.wake();
  }

  /** Something may have been written: read now (or right after the batch in progress). */
  wake(): void {
    if (this.stopped || Date.now() < this.retryAt) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Stops reading; waits for the batch in progress (it commits or rolls back as a whole). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  stats(): ReaderStats {
    return { ...this.counters };
  }

  private async drain(): Promise<void> {
    try {
      do {
        this.again = false;
        while (!this.stopped) {
          const read = await this.batch();
          if (read < this.deps.options.batchSize) break;
        }
      } while (this.again && !this.stopped);
      if (this.failures > 0) this.deps.logger.info({ after: this.failures }, 'change log readable again');
      this.failures = 0;
      this.counters.failing = false;
    } catch (err) {
      this.failures++;
      const delay = Math.min(MAX_RETRY_MS, 250 * 2 ** Math.min(this.failures, 10));
      this.retryAt = Date.now() + delay;
      this.counters.lastError = (err as Error).message;
      this.counters.failing = true;
      this.deps.logger.warn(
        { err: (err as Error).message, retryInMs: delay },
        'reading the change log failed; retrying',
      );
      const t = setTimeout(() => this.wake(), delay + 1);
      t.unref();
    }
  }

  /** One transaction: read, translate, queue, delete. Returns how many rows it handled. */
  private async batch(): Promise<number> {
    const { knex, changelog, pending, fanout, logger, options } = this.deps;
    const now = this.deps.now?.() ?? new Date();
    // most polls find nothing: one plain query, no transaction
    if (!(await changelog.any())) return 0;
    const isolation = changelog.dialect === 'mysql' ? { isolationLevel: 'read committed' as const } : {};
    const handled = await knex.transaction(async (trx) => {
      const rows = await changelog.read(trx, options.batchSize);
      if (rows.length === 0) return 0;
      for (const r of rows) {
        // a row we can't read would block the log forever if kept: log it with its content's id
        if (!r.event)
          logger.error({ changelogId: r.id, reason: r.unreadable }, 'change-log row cannot be read: skipped');
      }
      const events = rows.flatMap((r) => (r.event ? [r.event] : []));
      const entries = await translate(events, fanout, now);
      await pending.enqueue(trx, entries, now, options.debounceMs);
      await changelog.remove(
        trx,
        rows.map((r) => r.id),
      );
      if (entries.length > 0)
        logger.debug({ changes: rows.length, accounts: entries.length }, 'changes queued');
      return rows.length;
    }, isolation);
    if (handled > 0) {
      this.counters.batches++;
      this.counters.changes += handled;
      this.counters.lastBatchAt = new Date();
      this.deps.onQueued();
    }
    return handled;
  }
}
