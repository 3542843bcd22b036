// Reads the change log written by the capture triggers and turns it into queued accounts.
//
// Why no row is ever skipped, on both dialects: the reader keeps no position. The change log holds
// exactly the changes not yet handled; each batch reads the oldest rows *visible now* and, in the
// same transaction, queues their accounts (<prefix>pending) and deletes them. A transaction that
// took a lower id (or an earlier created_at) but commits after a later one was read is simply not
// visible yet: its rows stay in the table and are read by a later batch. The classic hazard ("read
// by a growing id, remember the last id, miss the late committer") needs a cursor; deleting what
// was handled has none. On MySQL/InnoDB each batch is a new transaction whose consistent read sees
// every row committed before it, so the same argument holds under REPEATABLE READ.
//
// One reader runs per database (the instance holding the leader lock, src/state/leader.ts). Were
// two to overlap for a moment, both would queue the same accounts, which the queue coalesces, and
// the second delete would find nothing: duplicates, never loss. The billing's writers never wait
// for a batch (src/state/changelog.ts says how).
//
// Acknowledging = deleting the rows, in the transaction that queues their accounts: nothing is
// acknowledged before it is durably queued. A failure (database gone, deadlock) rolls the batch
// back, the rows stay, and the reader retries with back-off.
//
// The wake-up is an adaptive poll, on both dialects: no NOTIFY (its global lock at commit
// serialises the billing's commits). After a look that found changes the next look comes
// BUSY_MS later; every empty look doubles the pause, up to `pollIntervalMs`. So a steady stream
// of changes is read within milliseconds, and a quiet billing costs one cheap SELECT per
// `pollIntervalMs`.
import type { Knex } from 'knex';
import type { Logger } from '../../log.js';
import type { ChangeLog } from '../../state/changelog.js';
import type { PendingStore } from '../../state/pending.js';
import { type Fanout, translate } from '../translate.js';

export interface ReaderOptions {
  /** change-log rows per transaction */
  batchSize: number;
  /** the longest pause between two looks at the change log, reached after a quiet spell */
  pollIntervalMs: number;
  /** a newly queued account waits this long, so that a change spread over several transactions coalesces */
  debounceMs: number;
}

export interface ReaderStats {
  /** looks at the change log (most of them find nothing) */
  looks: number;
  batches: number;
  changes: number;
  lastBatchAt: Date | null;
  lastError: string | null;
  failing: boolean;
}

/** the pause after a look that found changes */
export const BUSY_MS = 5;
const MAX_RETRY_MS = 30_000;

export class ChangeLogReader {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private failures = 0;
  private pause = BUSY_MS;
  private readonly counters: ReaderStats = {
    looks: 0,
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

  /** Starts reading, beginning with whatever accumulated while nobody read. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.failures = 0;
    this.pause = BUSY_MS;
    this.wake();
  }

  /** Something may have been written: look now (or right after the batch in progress). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  /** Stops reading; waits for the batch in progress (it commits or rolls back as a whole). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  stats(): ReaderStats {
    return { ...this.counters };
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.drain().finally(() => {
        this.running = null;
      });
    }, ms);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    let found = 0;
    let next: number;
    try {
      do {
        this.again = false;
        while (!this.stopped) {
          const read = await this.batch();
          found += read;
          if (read < this.deps.options.batchSize) break;
        }
      } while (this.again && !this.stopped);
      if (this.failures > 0) this.deps.logger.info({ after: this.failures }, 'change log readable again');
      this.failures = 0;
      this.counters.failing = false;
      this.pause = found > 0 ? BUSY_MS : Math.min(this.pause * 2, this.deps.options.pollIntervalMs);
      next = this.pause;
    } catch (err) {
      this.failures++;
      next = Math.min(MAX_RETRY_MS, 250 * 2 ** Math.min(this.failures, 10));
      this.pause = BUSY_MS;
      this.counters.lastError = (err as Error).message;
      this.counters.failing = true;
      this.deps.logger.warn(
        { err: (err as Error).message, retryInMs: next },
        'reading the change log failed; retrying',
      );
    }
    if (!this.stopped) this.schedule(next);
  }

  /** One transaction: read, translate, queue, delete. Returns how many rows it handled. */
  private async batch(): Promise<number> {
    const { knex, changelog, pending, fanout, logger, options } = this.deps;
    const now = this.deps.now?.() ?? new Date();
    this.counters.looks++;
    // most looks find nothing: one plain query, no transaction
    if (!(await changelog.any())) return 0;
    const handled = await knex.transaction(async (trx) => {
      const rows = await changelog.read(trx, options.batchSize);
      if (rows.length === 0) return 0;
      for (const r of rows) {
        // a row we can't read would block the log forever if kept: log it with its key
        if (!r.event)
          logger.error(
            { changelogRow: r.handle, reason: r.unreadable },
            'change-log row cannot be read: skipped',
          );
      }
      const events = rows.flatMap((r) => (r.event ? [r.event] : []));
      const entries = await translate(events, fanout, now);
      await pending.enqueue(trx, entries, now, options.debounceMs);
      await changelog.remove(trx, rows);
      if (entries.length > 0)
        logger.debug({ changes: rows.length, accounts: entries.length }, 'changes queued');
      return rows.length;
    });
    if (handled > 0) {
      this.counters.batches++;
      this.counters.changes += handled;
      this.counters.lastBatchAt = new Date();
      this.deps.onQueued();
    }
    return handled;
  }
}
