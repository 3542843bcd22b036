// Per-account locks that hold across processes: in debezium mode every `run` instance consumes its
// share of the partitions and reconciles from the same <prefix>pending table, and one account's
// rows arrive on several topics (so on several instances). The queue takes this lock around each
// reconcile; whoever doesn't get it leaves the account to its holder.
//
// Session-level database locks, as the leader lock (leader.ts): PostgreSQL advisory locks
// (scoped to the database), MySQL/MariaDB named locks (server-wide, so the name carries the
// database; several per session since MySQL 5.7.5 / MariaDB 10.0.2). A session holds any number
// of them, so a few dedicated sessions serve all accounts; a lock is released on the session that
// took it (only that one can). A batch of accounts is locked in one statement; taking and releasing
// are single fast statements, never inside a transaction, so no snapshot is held open while the
// platform is called.
//
// If a session dies, the server frees its locks at once: a `kill -9` of an instance hands its
// accounts over immediately. The instance that lost a session finds out at its next statement on
// it and opens a new one; reconciles it had in flight on that session are no longer protected for
// the rest of their run (they fail too when the database is gone, which is how a session dies).
import type { Knex } from 'knex';
import { type Dialect, openBilling } from '../billing/connect.js';

export interface AccountLock {
  release(): Promise<void>;
}

interface Session {
  knex: Knex;
  conn: unknown;
}

export class AccountLocks {
  private readonly sessions: (Promise<Session> | null)[];
  private closed = false;
  /** round robin over the sessions */
  private next = 0;

  constructor(
    private readonly opts: {
      client: Dialect;
      connection: string;
      /** the service's table prefix: two installations on one database don't share locks */
      prefix: string;
      /** dedicated sessions (default 2) */
      sessions?: number;
    },
  ) {
    this.sessions = new Array(Math.max(1, opts.sessions ?? 2)).fill(null);
  }

  /** Opens every session now rather than at first use (under load, when opening costs most). */
  async open(): Promise<void> {
    await Promise.all(this.sessions.map((_, slot) => this.session(slot)));
  }

  /** The lock of one account, or null when another session (another instance) holds it. */
  async tryLock(vgId: number): Promise<AccountLock | null> {
    return (await this.tryLockMany([vgId])).get(vgId) ?? null;
  }

  /**
   * The locks of several accounts in one statement on one session (a queue starting a batch of
   * reconciles pays one round trip, not one per account); the accounts another session holds are
   * left out. Each function in the select list is evaluated once, so no lock is taken twice.
   */
  async tryLockMany(vgIds: number[]): Promise<Map<number, AccountLock>> {
    if (this.closed) throw new Error('account locks are closed');
    const out = new Map<number, AccountLock>();
    const ids = [...new Set(vgIds)];
    if (ids.length === 0) return out;
    const slot = this.next++ % this.sessions.length;
    const session = await this.session(slot);
    const row = await this.run(
      slot,
      session,
      ids.map((_, i) => `${this.lockExpr()} AS l${i}`).join(', '),
      ids.map((id) => this.name(id)),
    );
    ids.forEach((vgId, i) => {
      if (!truthy(row[`l${i}`])) return;
      let released = false;
      out.set(vgId, {
        release: async () => {
          if (released) return;
          released = true;
          // a failed unlock means the session is gone, and the server freed the lock with it
          await this.run(slot, session, `${this.unlockExpr()} AS l0`, [this.name(vgId)]).catch(
            () => undefined,
          );
        },
      });
    });
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    const open = this.sessions.splice(0);
    await Promise.all(open.map(async (s) => dispose(await s?.catch(() => null))));
  }

  private name(vgId: number): string {
    return `${this.opts.prefix}vg:${vgId}`;
  }

  private lockExpr(): string {
    return this.opts.client === 'pg'
      ? "pg_try_advisory_lock(hashtextextended('lbcore-lifestream:' || ?, 0))"
      : // vg_id first: truncation to MySQL's 64 characters only ever cuts the database name
        "GET_LOCK(LEFT(CONCAT(?, '@', DATABASE()), 64), 0)";
  }

  private unlockExpr(): string {
    return this.opts.client === 'pg'
      ? "pg_advisory_unlock(hashtextextended('lbcore-lifestream:' || ?, 0))"
      : "RELEASE_LOCK(LEFT(CONCAT(?, '@', DATABASE()), 64))";
  }

  private session(slot: number): Promise<Session> {
    let s = this.sessions[slot];
    if (!s) {
      s = (async () => {
        const knex = openBilling(this.opts.client, this.opts.connection, { min: 0, max: 1 });
        try {
          return { knex, conn: await knex.client.acquireConnection() };
        } catch (err) {
          await knex.destroy().catch(() => undefined);
          throw err;
        }
      })();
      // a session that can't be opened is tried afresh next time
      s.catch(() => {
        if (this.sessions[slot] === s) this.sessions[slot] = null;
      });
      this.sessions[slot] = s;
    }
    return s;
  }

  /** `SELECT <select list>` on the session; its one row. */
  private async run(
    slot: number,
    session: Session,
    select: string,
    bindings: string[],
  ): Promise<Record<string, unknown>> {
    try {
      const r = await session.knex.raw(`SELECT ${select}`, bindings).connection(session.conn);
      const rows =
        this.opts.client === 'pg'
          ? (r as { rows: Record<string, unknown>[] }).rows
          : (r as [Record<string, unknown>[]])[0];
      return rows[0] ?? {};
    } catch (err) {
      // the session is broken (its locks went with it): replace it for the next caller
      const current = this.sessions[slot];
      if (current && (await current.catch(() => null)) === session) {
        this.sessions[slot] = null;
        await dispose(session);
      }
      throw err;
    }
  }
}

/** Ends a session. The connection goes back to its pool first: knex's destroy() waits for every
 * connection in use to be returned, for ever. */
async function dispose(session: Session | null | undefined): Promise<void> {
  if (!session) return;
  try {
    await session.knex.client.releaseConnection(session.conn);
  } catch {
    // already gone
  }
  await session.knex.destroy().catch(() => undefined);
}

function truthy(v: unknown): boolean {
  return v === true || v === 1 || v === '1';
}
