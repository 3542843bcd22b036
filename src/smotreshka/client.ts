// The platform client: PlatformApi over HTTP. Every call goes through one path: a concurrency
// slot (p-limit; the connection pool is sized to match), one HTTP exchange, classification of the
// answer, and, after a transient failure only, p-retry with our own capped, jittered back-off
// that honours Retry-After. The slot is held for the exchange only, not while backing off, so a
// struggling account doesn't starve the others.
import pLimit from 'p-limit';
import pRetry from 'p-retry';
import { type Logger, silentLogger } from '../log.js';
import type { PlatformApi, StateStamps } from './api.js';
import { type BackoffOptions, retryDelay } from './backoff.js';
import { errorFromAnswer, errorFromException } from './classify.js';
import * as decode from './decode.js';
import { PlatformError, type PlatformErrorKind } from './errors.js';
import { Transport } from './transport.js';
import type { AccountStatePush, CreateAccountRequest } from './types.js';

export interface PlatformClientOptions {
  /** the operator's base URL, e.g. https://operator.node.lfstrm.tv */
  url: string;
  /** calls in flight at once (also the number of pooled connections) */
  concurrency: number;
  /** per attempt, from sending (connecting included) to the answer's last byte; waiting for a slot doesn't count */
  timeoutMs: number;
  /** retries of a transient failure (so at most retries + 1 attempts) */
  retries: number;
  logger?: Logger;
  /** back-off before the first retry, before jitter (default 200 ms) */
  minRetryDelayMs?: number;
  /** cap of the exponential back-off (default 10 s) */
  maxRetryDelayMs?: number;
  /** cap of a Retry-After the platform asks for (default 60 s) */
  maxRetryAfterMs?: number;
}

export interface PlatformClientStats {
  /** PlatformApi calls made */
  calls: number;
  /** HTTP exchanges, retries included */
  attempts: number;
  retries: number;
  /** calls that ended in an error (after retries), by kind */
  failures: Record<PlatformErrorKind, number>;
  /** exchanges in flight right now */
  inFlight: number;
}

export interface PlatformClient extends PlatformApi {
  stats(): PlatformClientStats;
  /** waits for calls in flight, then closes the connections */
  close(): Promise<void>;
}

const seg = encodeURIComponent;

function noFailures(): Record<PlatformErrorKind, number> {
  return {
    transient: 0,
    forbidden: 0,
    not_found: 0,
    unknown_subscription: 0,
    archived_subscription: 0,
    foreign_username: 0,
    bad_request: 0,
    protocol: 0,
  };
}

/** Applies a decoder; a shape it can't read is the platform's protocol error, not our bug. */
function readAnswer<T>(read: (json: unknown, call: string) => T, json: unknown, call: string): T {
  try {
    return read(json, call);
  } catch (err) {
    if (err instanceof decode.Unreadable) {
      throw new PlatformError('protocol', `${call}: unreadable answer: ${err.message}`, 200, call);
    }
    throw err;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface CallOptions {
  /**
   * After a transient failure, an error of this kind on a later attempt means the earlier attempt
   * did reach the platform and took effect (a retried DELETE finds the account already archived).
   */
  doneIfAfterRetry?: PlatformErrorKind;
}

export function createPlatformClient(opts: PlatformClientOptions): PlatformClient {
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1)
    throw new RangeError('concurrency must be >= 1');
  const log = opts.logger ?? silentLogger;
  const transport = new Transport(opts.url, opts.concurrency, opts.timeoutMs);
  const limit = pLimit(opts.concurrency);
  const backoff: BackoffOptions = {
    minDelayMs: opts.minRetryDelayMs ?? 200,
    maxDelayMs: opts.maxRetryDelayMs ?? 10_000,
    maxRetryAfterMs: opts.maxRetryAfterMs ?? 60_000,
  };
  const counters = { calls: 0, attempts: 0, retries: 0, inFlight: 0, failures: noFailures() };
  let closing: Promise<void> | undefined;

  /** One exchange: the JSON answer (`undefined` when `parse` is false), or a classified PlatformError. */
  async function exchange(
    method: string,
    path: string,
    body: string | undefined,
    parse: boolean,
  ): Promise<unknown> {
    const call = `${method} ${path}`;
    const started = performance.now();
    counters.attempts++;
    counters.inFlight++;
    let status = 0;
    try {
      const answer = await transport.send(method, path, body).catch((err: unknown) => {
        throw errorFromException(err, call);
      });
      status = answer.status;
      if (status < 200 || status > 299) throw errorFromAnswer(status, answer.text, call, answer.retryAfter);
      if (!parse) return undefined;
      try {
        return JSON.parse(answer.text);
      } catch {
        throw new PlatformError(
          'protocol',
          `${call} answered ${status} with a body that is not JSON`,
          status,
          call,
        );
      }
    } finally {
      counters.inFlight--;
      if (log.isLevelEnabled('debug')) {
        log.debug({ method, path, status, ms: Math.round(performance.now() - started) }, 'platform call');
      }
    }
  }

  type Read<T> = (json: unknown, call: string) => T;

  /** A call whose answer is read with `read`, or not read at all (`null`: only the status matters). */
  function request(
    method: string,
    path: string,
    payload: unknown,
    read: null,
    callOpts?: CallOptions,
  ): Promise<void>;
  function request<T>(
    method: string,
    path: string,
    payload: unknown,
    read: Read<T>,
    callOpts?: CallOptions,
  ): Promise<T>;
  async function request<T>(
    method: string,
    path: string,
    payload: unknown,
    read: Read<T> | null,
    callOpts: CallOptions = {},
  ): Promise<T | undefined> {
    counters.calls++;
    const call = `${method} ${path}`;
    const body = payload === undefined ? undefined : JSON.stringify(payload);
    let sawTransient = false;
    const attempt = async (): Promise<T | undefined> => {
      try {
        const json = await limit(exchange, method, path, body, read !== null);
        return read === null ? undefined : readAnswer(read, json, call);
      } catch (err) {
        if (sawTransient && err instanceof PlatformError && err.kind === callOpts.doneIfAfterRetry)
          return undefined;
        if (err instanceof PlatformError && err.transient) sawTransient = true;
        throw err;
      }
    };
    try {
      // The first attempt runs bare: p-retry's bookkeeping per call showed in profiles, and nearly
      // every call succeeds at once. It takes over only after a transient failure.
      try {
        return await attempt();
      } catch (err) {
        if (!(await backOff(err, 0, call))) throw err;
      }
      return await pRetry(attempt, {
        retries: opts.retries - 1,
        // p-retry's own delay is off: backOff waits, because only it knows Retry-After.
        minTimeout: 0,
        shouldRetry: ({ error, retriesConsumed }) => backOff(error, retriesConsumed + 1, call),
      });
    } catch (err) {
      if (err instanceof PlatformError) counters.failures[err.kind]++;
      throw err;
    }
  }

  /** After failure number `retriesUsed + 1`: waits and says true if the call is worth another try. */
  async function backOff(error: unknown, retriesUsed: number, call: string): Promise<boolean> {
    if (closing || retriesUsed >= opts.retries || !(error instanceof PlatformError) || !error.transient)
      return false;
    counters.retries++;
    const wait = retryDelay(retriesUsed + 1, backoff, error.retryAfterMs);
    if (log.isLevelEnabled('debug'))
      log.debug({ call, wait: Math.round(wait), error: error.message }, 'retrying');
    await sleep(wait);
    return true;
  }

  return {
    listAccounts: (pageNum, pageSize) =>
      request(
        'GET',
        `/v2/accounts?page_size=${pageSize}&page_num=${pageNum}`,
        undefined,
        decode.accountsPage,
      ),

    async getAccount(ref) {
      try {
        return await request('GET', `/v2/accounts/${seg(ref)}`, undefined, decode.singleAccount);
      } catch (err) {
        if (err instanceof PlatformError && err.kind === 'not_found') return null;
        throw err;
      }
    },

    createAccount: (req: CreateAccountRequest) => request('POST', '/v2/accounts', req, decode.createResult),

    deleteAccount: (ref) =>
      request('DELETE', `/v2/accounts/${seg(ref)}`, undefined, null, { doneIfAfterRetry: 'forbidden' }),

    updateAccount: (ref, body) => request('POST', `/v2/accounts/${seg(ref)}/update`, body, null),

    // No password: `{}`, and the platform (per its panel setting) generates one or refuses.
    resetPassword: (ref, password) =>
      request(
        'POST',
        `/v2/accounts/${seg(ref)}/reset-password`,
        password === undefined ? {} : { password },
        null,
      ),

    listSubscriptions: () => request('GET', '/v2/subscriptions', undefined, decode.catalogue),

    accountSubscriptions: (ref) =>
      request('GET', `/v2/accounts/${seg(ref)}/subscriptions`, undefined, decode.subscriptionIds),

    setSubscription: (ref, subscriptionId, valid) =>
      request(
        'POST',
        `/v2/accounts/${seg(ref)}/subscriptions`,
        { id: subscriptionId, valid },
        decode.subscriptionSwitch,
      ),

    pushAccountState: (ref, state: AccountStatePush, stamps: StateStamps, delayed = false) =>
      request(
        'POST',
        `/accounts/v3/${seg(ref)}/account-state${delayed ? '?delayed=true' : ''}`,
        {
          balance: state.balance,
          status: state.status,
          tvSuspended: state.tvSuspended,
          ...(state.recommendedRefill !== undefined ? { recommendedRefill: state.recommendedRefill } : {}),
          stateTimestamp: stamps.stateTimestamp,
          ...(stamps.lastChangeTimestamp !== undefined
            ? { lastChangeTimestamp: stamps.lastChangeTimestamp }
            : {}),
        },
        null,
      ),

    stats: () => ({ ...counters, failures: { ...counters.failures } }),

    // Idempotent: the service's shutdown path and a test's cleanup may both close it.
    close() {
      closing ??= transport.close();
      return closing;
    },
  };
}
