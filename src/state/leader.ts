// One active instance per billing database in trigger mode. The change-log reader, the timers and
// the queue workers run only in the instance that holds this lock; another `run` started against
// the same database stands by and takes over when the holder dies. That is how "never two
// reconciles of one account at once" holds across processes, with only an in-process lock per
// account inside the leader.
//
// The lock is a session lock held on a dedicated connection (PostgreSQL advisory lock, MySQL
// GET_LOCK): the database frees it the moment that session ends, so a `kill -9` of the holder hands
// over at once. The holder checks its session every few seconds; when the connection is gone it
// has lost the lock, stops working (onLost) and competes for it again. Between the loss and the
// check, in-flight reconciles of the old holder may overlap a new holder's for a moment: their
// calls are idempotent and the next change or timer converges the account again.
import type { Knex } from 'knex';
import { type Dialect, openBilling } from '../billing/connect.js';
import type { Logger } from '../log.js';

export interface LeaderOptions {
  client: Dialect;
  connection: string;
  /** the lock's name, e.g. `lifestream_run`; MySQL adds the database name (its locks are server-wide) */
  name: string;
  logger: Logger;
  /** the holder's session is checked this often */
  checkIntervalMs?: number;
  onLost: () => void;
}

const CHECK_TIMEOUT_MS = 5_000;

export class LeaderLock {
  private knex: Knex | null = null;
  private conn: unknown = null;
  private check: NodeJS.Timeout | null = null;

  constructor(private readonly opts: LeaderOptions) {}

  get held(): boolean {
    return this.conn !== null;
  }

  /** True when this process now holds the lock; false when another session does. */
  async tryAcquire(): Promise<boolean> {
    if (this.held) return true;
    const knex = openBilling(this.opts.client, this.opts.connection, { min: 0, max: 1 });
    let conn: unknown = null;
    const giveBack = async () => {
      // destroy() waits for borrowed connections: return it first
      if (conn !== null) await knex.client.releaseConnection(conn).catch(() => undefined);
      await knex.destroy().catch(() => undefined);
    };
    try {
      conn = await knex.client.acquireConnection();
      const got = await this.query(knex, conn, this.lockSql(), [this.opts.name]);
      if (!truthy(got)) {
        await giveBack();
        return false;
      }
    } catch (err) {
      await giveBack();
      throw err;
    }
    this.knex = knex;
    this.conn = conn;
    this.check = setInterval(() => void this.verify(), this.opts.checkIntervalMs ?? 2_000);
    this.check.unref();
    return true;
  }

  /** Gives the lock up (ends the session that holds it). */
  async release(): Promise<void> {
    if (this.check) clearInterval(this.check);
    this.check = null;
    const { knex, conn } = this;
    this.knex = null;
    this.conn = null;
    if (!knex) return;
    // back to its pool (destroy waits for borrowed connections), then closed: ending the session
    // frees the lock on the server
    await knex.client.releaseConnection(conn).catch(() => undefined);
    await knex.destroy().catch(() => undefined);
  }

  private lockSql(): string {
    return this.opts.client === 'pg'
      ? "SELECT pg_try_advisory_lock(hashtextextended('lbcore-lifestream:' || ?, 0)) AS got"
      : "SELECT GET_LOCK(LEFT(CONCAT(?, '@', DATABASE()), 64), 0) AS got";
  }

  private async verify(): Promise<void> {
    const { knex, conn } = this;
    if (!knex || !conn) return;
    try {
      await this.query(knex, conn, 'SELECT 1 AS got', []);
    } catch (err) {
      if (this.conn !== conn) return;
      this.opts.logger.warn(
        { err: (err as Error).message },
        'lost the leader lock (its database session ended)',
      );
      await this.release();
      this.opts.onLost();
    }
  }

  private async query(knex: Knex, conn: unknown, sql: string, bindings: string[]): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
        CHECK_TIMEOUT_MS,
      );
    });
    try {
      const r = await Promise.race([knex.raw(sql, bindings).connection(conn), timeout]);
      const rows =
        this.opts.client === 'pg' ? (r as { rows: { got: unknown }[] }).rows : (r as [{ got: unknown }[]])[0];
      return rows[0]?.got;
    } finally {
      clearTimeout(timer);
    }
  }
}

function truthy(v: unknown): boolean {
  return v === true || v === 1 || v === '1';
}
