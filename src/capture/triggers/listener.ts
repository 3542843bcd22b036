// PostgreSQL only: LISTEN on the change channel, so that the reader wakes within milliseconds of a
// commit instead of at the next poll. The notification is only a wake-up; the change log is the
// truth, and the reader catches up from it on every (re)connect, because nothing sent while the
// connection was down is ever replayed.
//
// pg-listen reconnects by itself for `retryTimeout` and then gives up for good (it emits `error`
// and never tries again). Here a give-up (or a failed first connect) is followed by a fresh
// subscriber after a back-off, forever, until stop(); polling covers the gap meanwhile.
import type { EventEmitter } from 'node:events';
import pgListen, { type Subscriber } from 'pg-listen';
import type { Logger } from '../../log.js';

// pg-listen is CommonJS with `exports.default`: Node's ESM loader hands over the exports object,
// a bundler's interop (vitest) the function itself.
type CreateSubscriber = typeof pgListen.default;
const loaded = pgListen as unknown as CreateSubscriber | { default: CreateSubscriber };
const createSubscriber: CreateSubscriber = typeof loaded === 'function' ? loaded : loaded.default;

export interface ListenerOptions {
  connectionString: string;
  channel: string;
  /** a notification arrived */
  onNotify: () => void;
  /** (re)connected and listening: time to catch up */
  onConnected: () => void;
  logger: Logger;
  /** pg-listen's own reconnect window before it gives up (default 5 s) */
  retryTimeoutMs?: number;
  /** cap of our back-off between fresh subscribers (default 30 s) */
  maxBackoffMs?: number;
}

export class ChangeListener {
  private subscriber: Subscriber | null = null;
  private stopped = true;
  private attempt = 0;
  private retry: NodeJS.Timeout | null = null;
  connected = false;

  constructor(private readonly opts: ListenerOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.dispose();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const { logger, channel } = this.opts;
    const sub = createSubscriber(
      { connectionString: this.opts.connectionString },
      {
        retryTimeout: this.opts.retryTimeoutMs ?? 5_000,
        retryInterval: (n: number) => Math.min(2_000, 100 * 2 ** n),
        paranoidChecking: 10_000,
        // the payload is always empty: nothing to parse
        parse: (s: string) => s,
      },
    );
    this.subscriber = sub;
    sub.notifications.on(channel, () => this.opts.onNotify());
    sub.events.on('connected', () => {
      if (this.subscriber !== sub) return;
      this.connected = true;
      this.attempt = 0;
      logger.info({ channel }, 'listening for billing changes');
      this.opts.onConnected();
    });
    sub.events.on('reconnect', (n: number) => {
      this.connected = false;
      if (n === 1) logger.warn({ channel }, 'change notifications lost their connection; reconnecting');
    });
    sub.events.on('error', (err: Error) => this.giveUp(sub, err));
    try {
      await sub.connect();
      await sub.listenTo(channel);
    } catch (err) {
      this.giveUp(sub, err as Error);
    }
  }

  private giveUp(sub: Subscriber, err: Error): void {
    if (this.subscriber !== sub || this.stopped) return;
    this.connected = false;
    this.attempt++;
    const delay = Math.min(this.opts.maxBackoffMs ?? 30_000, 500 * 2 ** Math.min(this.attempt - 1, 10));
    this.opts.logger.warn(
      { err: err.message, retryInMs: delay },
      'change notifications unavailable; polling meanwhile, reconnecting',
    );
    void this.dispose();
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.open();
    }, delay);
    this.retry.unref();
  }

  private async dispose(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = null;
    this.connected = false;
    if (!sub) return;
    (sub.events as unknown as EventEmitter).removeAllListeners();
    (sub.notifications as unknown as EventEmitter).removeAllListeners();
    // a subscriber that never connected or already lost its connection may throw on close
    sub.events.on('error', () => undefined);
    await sub.close().catch(() => undefined);
  }
}
