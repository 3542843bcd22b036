// The propagation queue against its real table, with a scripted reconciler: coalescing, one run per
// account at a time, parallelism, back-off, the circuit, and a stop that loses nothing.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import type { AccountOutcome } from '../../src/reconcile/apply.js';
import { DEFAULT_QUEUE_OPTIONS, PropagationQueue, type QueueOptions } from '../../src/reconcile/queue.js';
import { PlatformError } from '../../src/smotreshka/errors.js';
import { migrateUp } from '../../src/state/migrate.js';
import { PendingStore } from '../../src/state/pending.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

const outcome = (vgId: number): AccountOutcome => ({
  vgId,
  username: '',
  found: [],
  made: [],
  remaining: [],
  record: null,
  park: null,
});

describe.each(DIALECTS)('propagation queue on %s', (dialect) => {
  let db: TestDatabase;
  let pending: PendingStore;
  let queue: PropagationQueue | null = null;
  /** run log: [vgId, start, end] */
  let runs: { vgId: number; start: number; end: number }[];
  let running: Map<number, number>;
  let maxPerAccount: number;
  let maxTotal: number;
  let behaviour: (vgId: number, n: number) => Promise<void>;
  let recoveries: number[];

  const reconcile = async (vgId: number, _source: string | null, { recovering }: { recovering: boolean }) => {
    if (recovering) recoveries.push(vgId);
    const start = Date.now();
    running.set(vgId, (running.get(vgId) ?? 0) + 1);
    maxPerAccount = Math.max(maxPerAccount, running.get(vgId)!);
    const total = [...running.values()].reduce((a, b) => a + b, 0);
    maxTotal = Math.max(maxTotal, total);
    try {
      await behaviour(vgId, runs.filter((r) => r.vgId === vgId).length);
      return outcome(vgId);
    } finally {
      running.set(vgId, running.get(vgId)! - 1);
      runs.push({ vgId, start, end: Date.now() });
    }
  };

  let parked: { vgId: number; reason: string }[] = [];
  const startQueue = (options: Partial<QueueOptions> = {}) => {
    queue = new PropagationQueue({
      pending,
      reconcile,
      park: async (vgId, reason) => {
        parked.push({ vgId, reason });
      },
      logger: silentLogger,
      options: { ...DEFAULT_QUEUE_OPTIONS, pollMs: 200, retryMinMs: 100, retryMaxMs: 400, ...options },
    });
    queue.start();
    return queue;
  };
  const enqueue = async (vgIds: number[]) => {
    await pending.enqueue(
      db.knex,
      vgIds.map((vgId) => ({ vgId, reason: 'services', source: null })),
      new Date(),
    );
    queue?.wake();
  };

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'queue');
    // migrate refuses a database without the billing's tables in either capture mode
    await createLanbillingSchema(db.knex, dialect);
    await migrateUp(db.knex, { dialect, prefix: 'lifestream_', captureMode: 'debezium' });
    pending = new PendingStore(db.knex, 'lifestream_', dialect);
  });
  beforeEach(async () => {
    await queue?.stop(0);
    queue = null;
    await db.knex('lifestream_pending').delete();
    runs = [];
    recoveries = [];
    parked = [];
    running = new Map();
    maxPerAccount = 0;
    maxTotal = 0;
    behaviour = () => sleep(5);
  });
  afterAll(async () => {
    await queue?.stop(0);
    await db?.drop();
  });

  it('a second of continuous changes to one account costs at most 3 reconciles, the last after the last change', async () => {
    // the reader queues once per batch: ~10 ms apart under a steady stream of commits
    startQueue();
    const t0 = Date.now();
    let batches = 0;
    while (Date.now() - t0 < 900) {
      await enqueue([42]);
      batches++;
      await sleep(10);
    }
    const lastChange = Date.now();
    await until(async () => (await pending.count()) === 0);
    expect(batches).toBeGreaterThan(20);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThanOrEqual(3);
    expect(runs.at(-1)!.start).toBeGreaterThanOrEqual(lastChange - 5);
  });

  it('runs many accounts in parallel, never one account twice at once', async () => {
    behaviour = () => sleep(20);
    startQueue({ concurrency: 8, hotIntervalMs: 0 });
    const accounts = Array.from({ length: 40 }, (_, i) => i + 1);
    for (let round = 0; round < 5; round++) {
      await enqueue(accounts);
      await sleep(15);
    }
    await until(async () => (await pending.count()) === 0);
    expect(maxPerAccount).toBe(1);
    expect(maxTotal).toBeGreaterThan(1);
    expect(maxTotal).toBeLessThanOrEqual(8);
    expect(new Set(runs.map((r) => r.vgId)).size).toBe(40);
  });

  it('backs off a failing account exponentially while the others flow', async () => {
    behaviour = async (vgId, n) => {
      if (vgId === 7 && n < 3) throw new PlatformError('transient', 'HTTP 503', 503, 'POST /v2/accounts');
    };
    startQueue({ circuitFailures: 100 });
    await enqueue([7, 8, 9]);
    await until(async () => (await pending.get(7))?.lastError != null);
    const row = await pending.get(7);
    expect(row?.attempts).toBe(1);
    expect(row?.lastError).toMatch(/503/);
    expect(row!.notBefore.getTime()).toBeGreaterThan(Date.now() - 50);
    await until(async () => (await pending.count()) === 0);
    const sevens = runs.filter((r) => r.vgId === 7).map((r) => r.start);
    expect(sevens).toHaveLength(4);
    // gaps grow: ~50-100 ms, ~100-200 ms, ~200-400 ms
    const gaps = sevens.slice(1).map((t, i) => t - sevens[i]!);
    expect(gaps[0]!).toBeGreaterThanOrEqual(45);
    expect(gaps[2]!).toBeGreaterThanOrEqual(195);
    expect(runs.filter((r) => r.vgId !== 7)).toHaveLength(2);
    // every run after a failed one is a recovery run (the billing wins), the others aren't
    expect(recoveries).toEqual([7, 7, 7]);
  });

  it('a permanent platform error that escapes the reconciler parks the account, never loops', async () => {
    behaviour = async (vgId) => {
      if (vgId === 3) throw new PlatformError('bad_request', 'HTTP 400', 400, 'GET /v2/accounts/x');
    };
    startQueue();
    await enqueue([3, 4]);
    await until(async () => (await pending.count()) === 0);
    await sleep(300);
    expect(parked).toEqual([{ vgId: 3, reason: 'bad_request' }]);
    expect(runs.filter((r) => r.vgId === 3)).toHaveLength(1);
  });

  it('an earlier wake-up does not cancel a later one', async () => {
    const q = startQueue({ pollMs: 5_000 });
    const t0 = Date.now();
    await pending.enqueue(db.knex, [{ vgId: 31, reason: 'services', source: null }], new Date(), 300);
    q.wakeAt(t0 + 300);
    await pending.enqueue(db.knex, [{ vgId: 32, reason: 'services', source: null }], new Date(), 100);
    q.wakeAt(t0 + 100);
    await until(() => runs.length === 2, 3_000);
    // both long before the 5 s poll
    expect(runs.map((r) => r.vgId).sort()).toEqual([31, 32]);
    expect(Math.max(...runs.map((r) => r.start)) - t0).toBeLessThan(1_000);
  });

  it('a run left unfinished by a crash makes the next run a recovery run', async () => {
    await enqueue([5, 6]);
    // what a process killed in the middle of a reconcile leaves behind
    await pending.markStarted([5]);
    startQueue();
    await until(async () => (await pending.count()) === 0);
    expect(recoveries).toEqual([5]);
  });

  it('pauses the whole queue when the platform fails for everyone, and resumes after', async () => {
    let down = true;
    behaviour = async () => {
      if (down) throw new PlatformError('transient', 'connect ECONNREFUSED', undefined, 'GET /v2/accounts/x');
    };
    startQueue({
      circuitFailures: 3,
      circuitMaxPauseMs: 400,
      retryMinMs: 10,
      retryMaxMs: 20,
      concurrency: 4,
    });
    await enqueue(Array.from({ length: 30 }, (_, i) => 100 + i));
    await sleep(1000);
    // without the circuit: 30 accounts retrying every 10-20 ms for a second = well over 1,000 calls
    expect(runs.length).toBeLessThan(40);
    expect(queue!.stats().circuit).not.toBe('closed');
    down = false;
    await until(async () => (await pending.count()) === 0);
    expect(queue!.stats().circuit).toBe('closed');
  });

  it('stop waits for in-flight work up to the grace period; unfinished accounts stay queued', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    behaviour = (vgId) => (vgId === 1 ? held : sleep(1));
    const q = startQueue();
    await enqueue([1, 2]);
    await until(() => runs.some((r) => r.vgId === 2) && running.get(1) === 1);
    expect(await q.stop(100)).toBe(1);
    release();
    expect((await pending.get(1))?.vgId).toBe(1);
    expect(await pending.get(2)).toBeNull();
  });
});
