// The per-account propagation queue: workers take due accounts from <prefix>pending and reconcile
// them, many accounts at once, never one account twice at once.
//
// - Coalescing: every change to an account only bumps its pending row; a reconcile reads the
//   billing as it is, so one run covers all changes made before it read. A row is deleted only if
//   its seq is unchanged since the run started; otherwise the account runs again.
// - Hot accounts: an account runs again no sooner than `hotIntervalMs` after its previous run
//   started, whether it changed during that run (its row stays, with a later not_before) or just
//   after it (a new row, postponed when it comes due). A thousand changes in a second then cost
//   about three reconciles instead of one per reader batch, and a lone change is not delayed.
// - One at a time per account: an in-process set of accounts in flight. Across processes, in
//   trigger mode the leader lock (src/state/leader.ts) makes this the only queue working on the
//   database; in debezium mode every instance works the same table and `claim` takes a
//   per-account database lock (src/state/account-lock.ts) around each reconcile. Under the lock
//   the row is read again: another instance may have reconciled the account since it was listed,
//   and only the seq read under the lock may be compared when the row is deleted.
// - Interrupted runs: a run is marked started (attempts + 1) before it calls the platform and the
//   row leaves only when it completes, so a crash or a transient failure in the middle leaves
//   attempts > 0. The next run of such an account is a recovery run: the billing wins even over
//   what looks like a switch-off made on the platform, because that look may be our own half-done
//   run (a disable made, the record of it not yet saved, then the billing changed back).
// - Failures: the reconciler parks permanent ones itself and returns. A permanent platform error
//   that escapes it anyway (a refusal of the account lookup) is parked here, never retried in a
//   loop, and so is a billing write the database refuses for good (a constraint, a value that
//   doesn't fit: billing/errors.ts), with the database's message. Whatever else it throws is
//   transient (platform down, timeouts, deadlocks, the database gone): that account backs off
//   exponentially
//   (not_before), others go on. Transient platform failures in a row open the circuit
//   (circuit.ts) and the whole queue pauses instead of spinning through every account.
// - Stopping: no new work; in-flight reconciles get a grace period; whatever is unfinished keeps its
//   pending row and runs at the next start. Nothing is lost because nothing is deleted before it ran.
import { billingRefusal } from '../billing/errors.js';
import type { Logger } from '../log.js';
import { retryDelay } from '../smotreshka/backoff.js';
import { PlatformError } from '../smotreshka/errors.js';
import type { AccountLock } from '../state/account-lock.js';
import type { PendingAccount, PendingStore } from '../state/pending.js';
import type { AccountOutcome } from './apply.js';
import { gather } from './batching.js';
import { Circuit, type CircuitState } from './circuit.js';

export interface QueueOptions {
  /** accounts reconciled at once */
  concurrency: number;
  /** spacing of consecutive runs of an account that keeps changing */
  hotIntervalMs: number;
  /** per-account back-off after a transient failure: first delay and cap */
  retryMinMs: number;
  retryMaxMs: number;
  /** transient platform failures in a row that pause the whole queue */
  circuitFailures: number;
  circuitMaxPauseMs: number;
  /** the queue looks for due work at least this often, whatever wakes it */
  pollMs: number;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = {
  concurrency: 16,
  hotIntervalMs: 500,
  retryMinMs: 500,
  retryMaxMs: 60_000,
  circuitFailures: 5,
  circuitMaxPauseMs: 30_000,
  pollMs: 1_000,
};

/** `recovering`: the account's previous run did not complete (see the note above). */
export type ReconcileFn = (
  vgId: number,
  source: string | null,
  opts: { recovering: boolean },
) => Promise<AccountOutcome>;

/** An account held by another instance is looked at again after this long. */
const CLAIMED_ELSEWHERE_RETRY_MS = 250;

export interface QueueStats {
  inFlight: number;
  reconciled: number;
  failed: number;
  circuit: CircuitState;
  circuitResumesAt: Date | null;
  lastError: string | null;
}

export class PropagationQueue {
  private readonly inFlight = new Map<number, Promise<void>>();
  /** when each recently reconciled account last started: the hot-account spacing */
  private readonly lastStarted = new Map<number, number>();
  private readonly circuit: Circuit;
  private stopped = true;
  private pumping = false;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  /** when `timer` fires (ms since epoch) */
  private timerAt = Number.POSITIVE_INFINITY;
  /** later wake-ups waiting behind `timer`, in 10 ms buckets (at most a poll interval's worth) */
  private readonly laterWakes = new Set<number>();
  private poll: NodeJS.Timeout | null = null;
  private counters = { reconciled: 0, failed: 0, lastError: null as string | null };
  /** finish() of the reconciles completing in one turn, in one round trip */
  private readonly finish = gather<{ vgId: number; seq: number; notBefore: Date }, boolean>(async (items) => {
    const done = await this.deps.pending.finishMany(items);
    const byItem = new Map(items.map((item, i) => [item, done[i]!]));
    return (item) => byItem.get(item)!;
  });
  private pumpScheduled = false;

  constructor(
    private readonly deps: {
      pending: PendingStore;
      reconcile: ReconcileFn;
      logger: Logger;
      options: QueueOptions;
      /** parks an account whose reconcile threw a permanent platform error or billing refusal */
      park?: (vgId: number, reason: string, detail: string, source: string | null) => Promise<void>;
      /** after each successful reconcile (timers use the outcome's next transition) */
      onReconciled?: (outcome: AccountOutcome) => void;
      /**
       * several instances share the table (debezium mode): the account's cross-instance lock,
       * or null while another instance holds it
       */
      claim?: (vgIds: number[]) => Promise<Map<number, AccountLock>>;
    },
  ) {
    const o = deps.options;
    this.circuit = new Circuit({
      failures: o.circuitFailures,
      minPauseMs: Math.min(1_000, o.circuitMaxPauseMs),
      maxPauseMs: o.circuitMaxPauseMs,
    });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.poll = setInterval(() => this.wake(), this.deps.options.pollMs);
    this.poll.unref();
    this.wake();
  }

  /** New work may be due: look now. */
  wake(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    // the wakes of one turn (a batch of reconciles completing together) make one look
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      if (this.pumping) this.again = true;
      else if (!this.stopped) void this.pump();
    });
  }

  /**
   * Stops taking work and waits up to `graceMs` for reconciles in flight. Returns how many were
   * still running: their accounts stay queued for the next start.
   */
  async stop(graceMs = 10_000): Promise<number> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    if (this.timer) clearTimeout(this.timer);
    this.poll = this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.laterWakes.clear();
    if (this.inFlight.size === 0) return 0;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight.values()]),
      new Promise((r) => {
        t = setTimeout(r, graceMs);
      }),
    ]);
    clearTimeout(t);
    return this.inFlight.size;
  }

  stats(): QueueStats {
    const resumes = this.circuit.resumesAt;
    return {
      inFlight: this.inFlight.size,
      reconciled: this.counters.reconciled,
      failed: this.counters.failed,
      circuit: this.circuit.state(),
      circuitResumesAt: resumes ? new Date(resumes) : null,
      lastError: this.counters.lastError,
    };
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.again = false;
        if (this.stopped) return;
        const slots = this.circuit.allowance(this.inFlight.size, this.deps.options.concurrency);
        if (slots === 0) {
          // a finishing reconcile wakes us; an open circuit resumes by the clock
          if (this.circuit.state() === 'open') this.wakeAt(this.circuit.resumesAt);
          continue;
        }
        const now = new Date();
        // ask for enough rows to find `slots` that aren't already running
        const due = await this.deps.pending.due(now, slots + this.inFlight.size);
        const fresh: PendingAccount[] = [];
        for (const a of due) {
          if (this.inFlight.has(a.vgId) || fresh.length >= slots) continue;
          const cooled = (this.lastStarted.get(a.vgId) ?? 0) + this.deps.options.hotIntervalMs;
          if (cooled > now.getTime()) {
            await this.deps.pending.postpone(a.vgId, new Date(cooled));
            this.wakeAt(cooled);
          } else fresh.push(a);
        }
        // one statement marks the whole batch started (see "Interrupted runs"); with a claim, the
        // mark is taken per account under its lock instead
        if (this.deps.claim) await this.runClaimed(fresh, now);
        else {
          if (fresh.length > 0) await this.deps.pending.markStarted(fresh.map((a) => a.vgId));
          for (const account of fresh) this.run(account);
        }
        this.forgetCooled(now.getTime());
        // No look for the next not_before here: every one this process writes (debounce, spacing,
        // back-off) schedules its own wake-up, and the poll covers the rest.
        if (fresh.length === slots) this.again = true;
      } while (this.again);
    } catch (err) {
      // the queue table can't be read (database gone): try again at the next poll
      this.counters.lastError = (err as Error).message;
      this.deps.logger.warn(
        { err: (err as Error).message },
        'reading the propagation queue failed; retrying',
      );
    } finally {
      this.pumping = false;
    }
  }

  private forgetCooled(now: number): void {
    if (this.lastStarted.size < 10_000) return;
    for (const [vgId, at] of this.lastStarted)
      if (at + this.deps.options.hotIntervalMs <= now) this.lastStarted.delete(vgId);
  }

  /** Looks for due work again no later than `at` (ms since epoch); beyond the next poll, the poll does. */
  wakeAt(at: number): void {
    if (this.stopped) return;
    if (at - Date.now() >= this.deps.options.pollMs) return;
    const bucket = Math.ceil(at / 10) * 10;
    if (bucket >= this.timerAt) {
      if (bucket > this.timerAt) this.laterWakes.add(bucket);
      return;
    }
    // an earlier wake-up: the one it replaces waits its turn
    if (this.timer) {
      clearTimeout(this.timer);
      this.laterWakes.add(this.timerAt);
    }
    this.arm(bucket);
  }

  private arm(at: number): void {
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Number.POSITIVE_INFINITY;
        const now = Date.now();
        let next = Number.POSITIVE_INFINITY;
        for (const t of this.laterWakes) {
          if (t <= now) this.laterWakes.delete(t);
          else if (t < next) next = t;
        }
        if (next !== Number.POSITIVE_INFINITY) {
          this.laterWakes.delete(next);
          this.arm(next);
        }
        this.wake();
      },
      Math.max(0, at - Date.now()) + 1,
    );
    this.timer.unref();
  }

  /**
   * Several instances share the table: the batch's locks in one statement, the rows read again
   * under them (gone = reconciled elsewhere since listed; no longer due = rescheduled there), the
   * rest marked started in one statement and run; each lock is released when its run ends.
   */
  private async runClaimed(fresh: PendingAccount[], now: Date): Promise<void> {
    if (fresh.length === 0) return;
    const { pending } = this.deps;
    const locks = await this.deps.claim!(fresh.map((a) => a.vgId));
    const releaseAll = (ids: Iterable<number>) => Promise.all([...ids].map((id) => locks.get(id)?.release()));
    let rows: PendingAccount[];
    try {
      for (const a of fresh) {
        if (locks.has(a.vgId)) continue;
        // another instance is reconciling it: that one deletes the row or leaves it for a rerun
        await pending.postpone(a.vgId, new Date(Date.now() + CLAIMED_ELSEWHERE_RETRY_MS));
        this.wakeAt(Date.now() + CLAIMED_ELSEWHERE_RETRY_MS);
      }
      rows = await pending.dueOf([...locks.keys()], now);
      if (rows.length > 0) await pending.markStarted(rows.map((a) => a.vgId));
    } catch (err) {
      await releaseAll(locks.keys());
      throw err;
    }
    const running = new Set(rows.map((a) => a.vgId));
    await releaseAll([...locks.keys()].filter((id) => !running.has(id)));
    for (const account of rows) this.run(account, locks.get(account.vgId));
  }

  /** Runs an account already marked started (and, with a claim, locked). */
  private run(account: PendingAccount, lock?: AccountLock): void {
    const job = this.reconcileHeld(account)
      .finally(() => lock?.release())
      .finally(() => {
        this.inFlight.delete(account.vgId);
        this.wake();
      });
    this.inFlight.set(account.vgId, job);
  }

  /** Reconciles an account this process alone works on now. */
  private async reconcileHeld(account: PendingAccount): Promise<void> {
    const { pending, logger, options } = this.deps;
    const { vgId, seq } = account;
    const started = Date.now();
    if (options.hotIntervalMs > 0) this.lastStarted.set(vgId, started);
    let outcome: AccountOutcome;
    try {
      outcome = await this.deps.reconcile(vgId, account.source ?? account.reason, {
        recovering: account.attempts > 0,
      });
    } catch (err) {
      const refusal = billingRefusal(err);
      if (this.deps.park && err instanceof PlatformError && !err.transient) {
        this.circuit.success(); // the platform answered
        const detail = `${err.kind}: ${err.message}${err.call ? ` (${err.call})` : ''}`;
        await this.parkAccount(account, err.kind, detail, started, 'platform refused the account: parked');
      } else if (this.deps.park && refusal) {
        await this.parkAccount(
          account,
          'billing_refused',
          refusal,
          started,
          'the billing refused a write: parked',
        );
      } else await this.failed(account, err);
      return;
    }
    this.circuit.success();
    this.counters.reconciled++;
    try {
      const done = await this.finish({ vgId, seq, notBefore: new Date(started + options.hotIntervalMs) });
      if (!done) {
        logger.debug({ vgId }, 'account changed while reconciled: runs again');
        this.wakeAt(started + options.hotIntervalMs);
      }
    } catch (err) {
      // the row stays queued: the account runs once more, which is harmless
      logger.warn({ vgId, err: (err as Error).message }, 'could not mark the account done');
    }
    this.deps.onReconciled?.(outcome);
  }

  /** A refusal that trying again won't change: park the account with it, and let it go. */
  private async parkAccount(
    account: PendingAccount,
    reason: string,
    detail: string,
    started: number,
    why: string,
  ): Promise<void> {
    const { pending, logger, options } = this.deps;
    try {
      await this.deps.park!(account.vgId, reason, detail, account.source);
      await pending.finish(account.vgId, account.seq, new Date(started + options.hotIntervalMs));
      logger.warn({ vgId: account.vgId, reason, detail }, why);
    } catch (e) {
      await this.failed(account, e);
    }
  }

  private async failed(account: PendingAccount, err: unknown): Promise<void> {
    const { pending, logger, options } = this.deps;
    const attempts = account.attempts + 1;
    const platform = err instanceof PlatformError && err.transient;
    const retryAfter = err instanceof PlatformError ? err.retryAfterMs : undefined;
    if (platform) this.circuit.failure(retryAfter);
    const delay = retryDelay(
      attempts,
      { minDelayMs: options.retryMinMs, maxDelayMs: options.retryMaxMs, maxRetryAfterMs: options.retryMaxMs },
      retryAfter,
    );
    const message = (err as Error)?.message ?? String(err);
    this.counters.failed++;
    this.counters.lastError = message;
    const log = attempts === 1 || attempts % 10 === 0 ? logger.warn.bind(logger) : logger.debug.bind(logger);
    log(
      {
        vgId: account.vgId,
        attempts,
        retryInMs: Math.round(delay),
        err: message,
        circuit: this.circuit.state(),
      },
      'reconcile failed; will retry',
    );
    try {
      await pending.retryLater(account.vgId, attempts, new Date(Date.now() + delay), message);
      this.wakeAt(Date.now() + delay);
    } catch (e) {
      logger.warn(
        { vgId: account.vgId, err: (e as Error).message },
        'could not schedule the retry; the account stays queued',
      );
    }
  }
}
