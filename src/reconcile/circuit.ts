// The whole queue's brake for a platform outage. One account's transient failure backs off that
// account; N in a row across accounts means the platform itself is down, and then every account
// would only fail and retry in turn. The circuit opens: no reconcile starts until the pause is
// over; then one probe runs (half-open); its success closes the circuit, its failure reopens it
// with a longer pause. Pure state with an injectable clock, so it is tested without waiting.
import { retryDelay } from '../smotreshka/backoff.js';

export interface CircuitOptions {
  /** transient failures in a row (without a success between) that open the circuit */
  failures: number;
  /** first pause, doubled on each reopening, with jitter */
  minPauseMs: number;
  maxPauseMs: number;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export class Circuit {
  private consecutive = 0;
  private openings = 0;
  private openUntil = 0;

  constructor(
    private readonly opts: CircuitOptions,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  state(): CircuitState {
    if (this.openings === 0) return 'closed';
    return this.now() < this.openUntil ? 'open' : 'half-open';
  }

  /** When an open circuit lets the next probe through (ms since epoch); 0 when not open. */
  get resumesAt(): number {
    return this.state() === 'open' ? this.openUntil : 0;
  }

  /** How many reconciles may start now, given how many are running. */
  allowance(inFlight: number, concurrency: number): number {
    switch (this.state()) {
      case 'closed':
        return Math.max(0, concurrency - inFlight);
      case 'open':
        return 0;
      case 'half-open':
        return inFlight === 0 ? 1 : 0;
    }
  }

  success(): void {
    this.consecutive = 0;
    this.openings = 0;
    this.openUntil = 0;
  }

  /** A transient platform failure; `retryAfterMs` = what the platform asked for, if it did. */
  failure(retryAfterMs?: number): void {
    this.consecutive++;
    const state = this.state();
    if (state === 'open') return;
    if (state === 'half-open' || this.consecutive >= this.opts.failures) {
      this.openings++;
      const pause = retryDelay(
        this.openings,
        {
          minDelayMs: this.opts.minPauseMs,
          maxDelayMs: this.opts.maxPauseMs,
          maxRetryAfterMs: this.opts.maxPauseMs,
        },
        retryAfterMs,
        this.random,
      );
      this.openUntil = this.now() + pause;
    }
  }

  get openCount(): number {
    return this.openings;
  }
}
