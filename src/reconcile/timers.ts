// Durable timers: a service that starts (timefrom) or expires (timeto) changes what the platform
// should have without any row changing. Every reconcile stores the account's next such moment in
// <prefix>accounts.next_at; this loop sleeps until the earliest one, then queues the due accounts
// (and clears their next_at in the same transaction; the reconcile stores the following one).
// Because the timers live in the database, a restart misses none: on start every overdue timer
// fires at once.
import type { Logger } from '../log.js';
import type { PendingStore } from '../state/pending.js';
import type { StateStore } from '../state/store.js';

const BATCH = 1000;

export class TimerLoop {
  private timer: NodeJS.Timeout | null = null;
  /** when the loop is set to wake next (ms since epoch) */
  private wakeAt = Number.POSITIVE_INFINITY;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  lastError: string | null = null;

  constructor(
    private readonly deps: {
      pending: PendingStore;
      store: StateStore;
      logger: Logger;
      /** accounts were queued */
      onQueued: () => void;
      /** the longest sleep: also the safety net for a timer stored by another process */
      maxSleepMs?: number;
    },
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wakeAt = Number.POSITIVE_INFINITY;
    await this.running;
  }

  /** A reconcile stored `nextAt`: wake earlier if it comes before the current plan. */
  consider(nextAt: Date | null): void {
    if (nextAt) this.schedule(nextAt.getTime());
  }

  private tick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.fire().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.tick();
      }
    });
  }

  private async fire(): Promise<void> {
    const { pending, store, logger } = this.deps;
    const maxSleep = this.deps.maxSleepMs ?? 30_000;
    try {
      let queued = 0;
      for (;;) {
        const n = await pending.enqueueDueTimers(new Date(), BATCH);
        queued += n;
        if (n < BATCH || this.stopped) break;
      }
      if (queued > 0) {
        logger.debug({ accounts: queued }, 'timers fired');
        this.deps.onQueued();
      }
      const next = await store.nextTimer();
      this.lastError = null;
      this.schedule(Math.min(next?.getTime() ?? Number.POSITIVE_INFINITY, Date.now() + maxSleep));
    } catch (err) {
      this.lastError = (err as Error).message;
      logger.warn({ err: this.lastError }, 'timers could not be read; retrying');
      this.schedule(Date.now() + Math.min(5_000, maxSleep));
    }
  }

  /** Wakes at `at` unless already set to wake earlier (a reconcile's consider() during fire()). */
  private schedule(at: number): void {
    if (this.stopped || at >= this.wakeAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.wakeAt = Number.POSITIVE_INFINITY;
        this.tick();
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref();
  }
}
