// What the simulator was asked: the last `limit` calls in a ring buffer (preallocated, no copying
// of bodies: a record keeps references to the parsed request) and running totals by route and
// status, which survive the ring's overwrites. Also counts calls in flight, so that tests can
// check a client's concurrency limit from the platform's side.

export interface CallRecord {
  /** 1, 2, 3... in the order answers were completed */
  seq: number;
  /** ms since epoch when the call arrived */
  at: number;
  method: string;
  /** the path without the query string, as sent (percent-encoded) */
  path: string;
  /** route pattern, e.g. `POST /v2/accounts/:id/subscriptions` */
  route: string;
  query: Record<string, unknown>;
  body: unknown;
  /** 0 when no answer was sent (a 'reset' or an abandoned 'hang') */
  status: number;
  ms: number;
  /** account-state: answered 200 but dropped as stale */
  ignored?: boolean;
  /** the fault rule kind that shaped this answer */
  fault?: string;
}

interface RouteCounter {
  calls: number;
  statuses: Record<string, number>;
}

export class Recorder {
  private ring: (CallRecord | undefined)[];
  private seq = 0;
  private routes = new Map<string, RouteCounter>();
  private ignored = 0;
  /** seq of the last call forgotten by clear() */
  private cleared = 0;
  inFlight = 0;
  maxInFlight = 0;

  constructor(readonly limit: number) {
    this.ring = new Array(Math.max(0, limit));
  }

  enter(): void {
    this.inFlight++;
    if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
  }

  leave(): void {
    this.inFlight--;
  }

  record(call: Omit<CallRecord, 'seq'>): void {
    const seq = ++this.seq;
    if (this.limit > 0) {
      const rec = call as CallRecord;
      rec.seq = seq;
      this.ring[(seq - 1) % this.limit] = rec;
    }
    let counter = this.routes.get(call.route);
    if (!counter) {
      counter = { calls: 0, statuses: {} };
      this.routes.set(call.route, counter);
    }
    counter.calls++;
    counter.statuses[call.status] = (counter.statuses[call.status] ?? 0) + 1;
    if (call.ignored) this.ignored++;
  }

  /** Records with seq > `since`, oldest first, at most `max`. `lastSeq` is the newest seq overall. */
  since(since: number, max: number): { calls: CallRecord[]; lastSeq: number; oldestSeq: number } {
    const oldestSeq = Math.max(this.cleared + 1, this.seq - this.limit + 1);
    const calls: CallRecord[] = [];
    for (let s = Math.max(since + 1, oldestSeq); s <= this.seq && calls.length < max; s++) {
      const rec = this.ring[(s - 1) % this.limit];
      if (rec) calls.push(rec);
    }
    return { calls, lastSeq: this.seq, oldestSeq };
  }

  /** Back to the start, `seq` included (POST /_simulator/reset). */
  reset(): void {
    this.clear();
    this.seq = 0;
    this.cleared = 0;
  }

  /**
   * Forgets the recorded calls and totals (and the in-flight peak). `seq` keeps counting, so that a
   * reader polling with `since` is not confused.
   */
  clear(): number {
    const dropped = Math.min(this.seq - this.cleared, this.limit);
    this.ring = new Array(Math.max(0, this.limit));
    this.routes.clear();
    this.ignored = 0;
    this.maxInFlight = this.inFlight;
    this.cleared = this.seq;
    return dropped;
  }

  stats(): {
    total: number;
    ignoredStatePushes: number;
    routes: Record<string, RouteCounter>;
    inFlight: number;
    maxInFlight: number;
    lastSeq: number;
  } {
    let total = 0;
    const routes: Record<string, RouteCounter> = {};
    for (const [route, c] of this.routes) {
      total += c.calls;
      routes[route] = { calls: c.calls, statuses: { ...c.statuses } };
    }
    return {
      total,
      ignoredStatePushes: this.ignored,
      routes,
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      lastSeq: this.seq,
    };
  }
}
