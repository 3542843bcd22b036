// Several instances working one <prefix>pending table (debezium mode): each queue takes the
// account's cross-instance lock around a reconcile. Two queues on separate database sessions, a
// scripted reconciler that records who ran what when: never one account in two places at once,
// nothing lost while changes keep arriving, and a lock freed as soon as its session dies.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import type { AccountOutcome } from '../../src/reconcile/apply.js';
import { DEFAULT_QUEUE_OPTIONS, PropagationQueue } from '../../src/reconcile/queue.js';
import { AccountLocks } from '../../src/state/account-lock.js';
import { migrateUp } from '../../src/state/migrate.js';
import { PendingStore } from '../../src/state/pending.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
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

describe.each(DIALECTS)('one pending table, two instances, on %s', (dialect) => {
  let db: TestDatabase;
  let pending: PendingStore;
  const running = new Map<number, string>();
  let overlaps: string[];
  let runs: { vgId: number; who: string; start: number }[];
  let queues: PropagationQueue[] = [];
  let locks: AccountLocks[] = [];

  const instance = (who: string, lockSessions = 2) => {
    const lock = new AccountLocks({
      client: dialect,
      connection: db.url,
      prefix: 'lifestream_',
      sessions: lockSessions,
    });
    const queue = new PropagationQueue({
      pending: new PendingStore(db.knex, 'lifestream_', dialect),
      reconcile: async (vgId) => {
        const other = running.get(vgId);
        if (other) overlaps.push(`${vgId}: ${who} while ${other}`);
        running.set(vgId, who);
        runs.push({ vgId, who, start: Date.now() });
        await sleep(15 + (vgId % 3) * 10);
        running.delete(vgId);
        return outcome(vgId);
      },
      logger: silentLogger,
      options: {
        ...DEFAULT_QUEUE_OPTIONS,
        concurrency: 8,
        hotIntervalMs: 0,
        pollMs: 100,
        retryMinMs: 50,
        retryMaxMs: 200,
      },
      claim: (vgIds) => lock.tryLockMany(vgIds),
    });
    queues.push(queue);
    locks.push(lock);
    queue.start();
    return { queue, lock };
  };
  const enqueue = async (vgIds: number[]) => {
    await pending.enqueue(
      db.knex,
      vgIds.map((vgId) => ({ vgId, reason: 'services', source: null })),
      new Date(),
    );
    for (const q of queues) q.wake();
  };

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'shq');
    await createLanbillingSchema(db.knex, dialect);
    await migrateUp(db.knex, { dialect, prefix: 'lifestream_', captureMode: 'debezium' });
    pending = new PendingStore(db.knex, 'lifestream_', dialect);
  });
  beforeEach(async () => {
    await Promise.all(queues.map((q) => q.stop(1_000)));
    await Promise.all(locks.map((l) => l.close()));
    queues = [];
    locks = [];
    await db.knex('lifestream_pending').delete();
    running.clear();
    overlaps = [];
    runs = [];
  });
  afterAll(async () => {
    await Promise.all(queues.map((q) => q.stop(1_000)));
    await Promise.all(locks.map((l) => l.close()));
    await db?.drop();
  });

  it('share the work, never run one account in both, and lose no change', async () => {
    instance('A');
    instance('B');
    const accounts = Array.from({ length: 40 }, (_, i) => i + 1);
    // changes keep arriving for the same accounts while both instances work
    for (let round = 0; round < 8; round++) {
      await enqueue(accounts);
      await sleep(40);
    }
    const lastChange = Date.now();
    await until(async () => (await pending.count()) === 0 && running.size === 0, 'the queue to drain');
    expect(overlaps).toEqual([]);
    // every account ran after its last change (the run that saw the final state)
    for (const vgId of accounts) {
      const last = runs.filter((r) => r.vgId === vgId).at(-1);
      expect(last, `account ${vgId}`).toBeDefined();
      expect(last!.start).toBeGreaterThanOrEqual(lastChange - 100);
    }
    // both did some of it
    expect(new Set(runs.map((r) => r.who))).toEqual(new Set(['A', 'B']));
  });

  it('an account locked elsewhere waits for its holder, then runs here if it changed meanwhile', async () => {
    const other = new AccountLocks({ client: dialect, connection: db.url, prefix: 'lifestream_' });
    locks.push(other);
    const held = await other.tryLock(7);
    expect(held).not.toBeNull();
    instance('A');
    await enqueue([7, 8]);
    await until(() => runs.some((r) => r.vgId === 8), 'account 8 to run');
    await sleep(400);
    expect(runs.filter((r) => r.vgId === 7)).toEqual([]); // held by "another instance"
    expect(await pending.get(7)).not.toBeNull();
    await held!.release();
    await until(() => runs.some((r) => r.vgId === 7), 'account 7 to run once released');
    await until(async () => (await pending.count()) === 0, 'the queue to drain');
  });

  it('a row reconciled and deleted elsewhere after it was listed is not reconciled again', async () => {
    const other = new AccountLocks({ client: dialect, connection: db.url, prefix: 'lifestream_' });
    locks.push(other);
    await enqueue([9]);
    const held = await other.tryLock(9);
    instance('A');
    await sleep(300); // A listed 9, found it locked, postponed it
    // the "other instance" finishes: deletes the row it reconciled, then unlocks
    await db.knex('lifestream_pending').where({ vg_id: 9 }).delete();
    await held!.release();
    await sleep(600);
    expect(runs.filter((r) => r.vgId === 9)).toEqual([]);
  });

  it("a lock is free the moment its holder's session dies, and the holder opens a new session", async () => {
    const { lock } = instance('A', 1);
    const other = new AccountLocks({ client: dialect, connection: db.url, prefix: 'lifestream_' });
    locks.push(other);
    const mine = await lock.tryLock(11);
    expect(mine).not.toBeNull();
    expect(await other.tryLock(11)).toBeNull();
    // kill A's lock session from the server side, as a crash or a network cut would
    if (dialect === 'pg') {
      await db.knex.raw(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())",
      );
    } else {
      const [rows] = await db.knex.raw("SELECT IS_USED_LOCK(CONCAT('lifestream_vg:11@', DATABASE())) AS id");
      await db.knex.raw(`KILL ${Number(rows[0].id)}`);
    }
    await until(async () => {
      const l = await other.tryLock(11);
      if (l) await l.release();
      return l !== null;
    }, 'the lock to be free');
    // A's next use of that session fails once, then it works again on a fresh one
    await mine!.release();
    let again = await lock.tryLock(12).catch(() => null);
    again ??= await lock.tryLock(12);
    expect(again).not.toBeNull();
    await again!.release();
  });
});
