// Database users for a test database, as a real installation has them:
//
// - createBillingUser: the billing's own application user (LANBilling's core, web UI, cabinet):
//   SELECT, INSERT, UPDATE, DELETE on LANBilling's tables and nothing else; in particular nothing
//   on the service's own tables. Its writes must keep working, and be captured, whatever `migrate`
//   installed.
// - createServiceUser: the service's own user with exactly the grants the README lists for trigger
//   mode (README: "Database users and grants"); tests run `migrate` and `run` as it.
//
// Both answer the user's connection URL (with its password: a test database's throwaway user) and
// a drop() to call before the database is dropped. Call them after the LANBilling schema is
// loaded; tables starting with `prefix` are the service's, not the billing's.
import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { openBilling } from '../../src/billing/connect.js';
import { CAPTURED_TABLES } from '../../src/capture/types.js';
import type { TestDatabase } from './db.js';

export interface DbUser {
  user: string;
  /** connection URL of the test database as this user */
  url: string;
  drop(): Promise<void>;
}

async function billingTables(db: TestDatabase, prefix: string): Promise<string[]> {
  const sql =
    db.dialect === 'pg'
      ? "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'"
      : 'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()';
  const r = await db.knex.raw(sql);
  const rows = (db.dialect === 'pg' ? r.rows : r[0]) as { t: string }[];
  return rows.map((x) => String(x.t)).filter((t) => !t.startsWith(prefix));
}

function urlAs(db: TestDatabase, user: string, password: string): string {
  const u = new URL(db.url);
  u.username = user;
  u.password = password;
  return u.toString();
}

const qp = (s: string) => `"${s}"`;
const qm = (s: string) => `\`${s}\``;

async function createUser(
  db: TestDatabase,
  kind: string,
  grants: (user: string) => string[],
): Promise<DbUser> {
  const user = `lbls_${kind}_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(9).toString('hex');
  const k: Knex = db.knex;
  if (db.dialect === 'pg') {
    await k.raw(`CREATE ROLE ${qp(user)} LOGIN PASSWORD '${password}'`);
    await k.raw(`GRANT CONNECT ON DATABASE ${qp(db.name)} TO ${qp(user)}`);
    await k.raw(`GRANT USAGE ON SCHEMA public TO ${qp(user)}`);
  } else {
    // SET PASSWORD/ALTER USER differ across versions; IDENTIFIED BY at creation works on all
    await k.raw(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
  }
  for (const sql of grants(user)) await k.raw(sql);
  return {
    user,
    url: urlAs(db, user, password),
    async drop() {
      // users are the server's, not the database's: dropped through the server's own database
      // (the test database may be gone by now, and its privileges with it)
      const u = new URL(db.url);
      u.pathname = db.dialect === 'pg' ? '/postgres' : '/mysql';
      const admin = openBilling(db.dialect, u.toString(), { min: 0, max: 1 });
      try {
        if (db.dialect === 'pg') {
          await admin.raw(`DROP ROLE IF EXISTS ${qp(user)}`).catch(async () => {
            // still owns privileges in the live test database
            await k.raw(`DROP OWNED BY ${qp(user)}`);
            await admin.raw(`DROP ROLE IF EXISTS ${qp(user)}`);
          });
        } else await admin.raw(`DROP USER '${user}'@'%'`).catch(() => undefined);
      } finally {
        await admin.destroy();
      }
    },
  };
}

/** The billing's own user: DML on LANBilling's tables, nothing else. */
export async function createBillingUser(db: TestDatabase, prefix = 'lifestream_'): Promise<DbUser> {
  const tables = await billingTables(db, prefix);
  return createUser(db, 'billing', (user) =>
    db.dialect === 'pg'
      ? [`GRANT SELECT, INSERT, UPDATE, DELETE ON ${tables.map(qp).join(', ')} TO ${qp(user)}`]
      : tables.map((t) => `GRANT SELECT, INSERT, UPDATE, DELETE ON ${qm(db.name)}.${qm(t)} TO '${user}'@'%'`),
  );
}

/**
 * The service's own user in trigger mode, with the README's grants. MySQL/MariaDB: with the binary
 * log on, creating triggers also needs SUPER or log_bin_trust_function_creators = 1; `binlog`
 * says which this test uses ('super' grants SUPER to the user, 'trust' expects the server setting).
 */
export async function createServiceUser(
  db: TestDatabase,
  opts: { prefix?: string; binlog?: 'super' | 'trust' } = {},
): Promise<DbUser> {
  const tables = await billingTables(db, opts.prefix ?? 'lifestream_');
  return createUser(db, 'service', (user) =>
    db.dialect === 'pg'
      ? [
          `GRANT CREATE ON SCHEMA public TO ${qp(user)}`,
          `GRANT SELECT ON ${tables.map(qp).join(', ')} TO ${qp(user)}`,
          `GRANT INSERT, UPDATE ON services TO ${qp(user)}`,
          // SELECT … FOR UPDATE of the account's vgroups row (the service never updates vgroups)
          `GRANT UPDATE ON vgroups TO ${qp(user)}`,
          `GRANT TRIGGER ON ${CAPTURED_TABLES.map(qp).join(', ')} TO ${qp(user)}`,
        ]
      : [
          `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, LOCK TABLES, TRIGGER ON ${qm(db.name)}.* TO '${user}'@'%'`,
          ...(opts.binlog === 'super' ? [`GRANT SUPER ON *.* TO '${user}'@'%'`] : []),
        ],
  );
}

/**
 * Sessions as the billing's own application opens them: as `url`'s user, and on MySQL/MariaDB with
 * the vendor's sql_mode (its dump sets NO_ENGINE_SUBSTITUTION: zero dates allowed) whatever the
 * server's global one is. No session time zone is set: the billing writes its own wall clock.
 */
export function billingSession(dialect: 'pg' | 'mysql', url: string, max = 2): Knex {
  if (dialect === 'pg') return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max } });
  return knexFactory({
    client: 'mysql2',
    connection: { uri: url, dateStrings: true } as Knex.MySql2ConnectionConfig & { uri: string },
    pool: {
      min: 0,
      max,
      afterCreate(
        conn: { query: (sql: string, cb: (err: Error | null) => void) => void },
        done: (err: Error | null, c: unknown) => void,
      ) {
        conn.query("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'", (err) => done(err, conn));
      },
    },
  });
}
