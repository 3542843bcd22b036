// How long to wait before retrying a transient failure: exponential, with jitter so that many
// accounts failing together don't retry in lock-step, capped; a platform's Retry-After is a floor.

export interface BackoffOptions {
  /** delay before the first retry (before jitter) */
  minDelayMs: number;
  /** cap of the exponential delay */
  maxDelayMs: number;
  /** cap of a Retry-After the platform asks for (a hostile or broken value must not stall us for hours) */
  maxRetryAfterMs: number;
}

/** `retry` is 1 for the first retry. Equal jitter: between half and all of the exponential step. */
export function retryDelay(
  retry: number,
  opts: BackoffOptions,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const step = Math.min(opts.maxDelayMs, opts.minDelayMs * 2 ** Math.max(0, retry - 1));
  const delay = step / 2 + (random() * step) / 2;
  if (retryAfterMs === undefined) return delay;
  return Math.max(delay, Math.min(retryAfterMs, opts.maxRetryAfterMs));
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
