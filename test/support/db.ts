// Fresh databases for integration tests on the real servers of this machine. Each call makes a
// database with a unique name, so test files can run in parallel; drop() removes it.
// Servers: LIFESTREAM_TEST_PG (default postgres://postgres@127.0.0.1:5432/postgres),
// LIFESTREAM_TEST_MYSQL (default mysql://root@127.0.0.1:3306/mysql) and, for the MySQL-5.6-class
// server, LIFESTREAM_TEST_MYSQL_LEGACY (default mysql://root@127.0.0.1:3316/mysql: MariaDB 10.1.23
// with a STATEMENT binlog, started by scripts/ci/legacy-mariadb.sh; test/support/legacy.ts).
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { type Dialect, openBilling } from '../../src/billing/connect.js';

export const PG_ADMIN = process.env.LIFESTREAM_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MYSQL_ADMIN = process.env.LIFESTREAM_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/mysql';
export const MYSQL_LEGACY_ADMIN =
  process.env.LIFESTREAM_TEST_MYSQL_LEGACY ?? 'mysql://root@127.0.0.1:3316/mysql';

export const DIALECTS: Dialect[] = ['pg', 'mysql'];

export interface TestDatabase {
  dialect: Dialect;
  name: string;
  /** connection URL of the new database */
  url: string;
  knex: Knex;
  /** closes `knex` and opens a fresh one: new sessions, which see settings made since (ALTER DATABASE) */
  reopen(): Promise<void>;
  drop(): Promise<void>;
}

function withDatabase(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** `server: 'legacy'`: on the MariaDB 10.1 server (dialect mysql) instead of the current one. */
export async function createTestDatabase(
  dialect: Dialect,
  label = 't',
  server: 'current' | 'legacy' = 'current',
): Promise<TestDatabase> {
  const name = `lbls_${label}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const adminUrl = dialect === 'pg' ? PG_ADMIN : server === 'legacy' ? MYSQL_LEGACY_ADMIN : MYSQL_ADMIN;
  const admin = openBilling(dialect, adminUrl, { min: 0, max: 1 });
  try {
    if (dialect === 'pg') await admin.raw(`CREATE DATABASE "${name}"`);
    else await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  } finally {
    await admin.destroy();
  }
  const url = withDatabase(adminUrl, name);
  const db: TestDatabase = {
    dialect,
    name,
    url,
    knex: openBilling(dialect, url, { min: 0, max: 10 }),
    async reopen() {
      await db.knex.destroy();
      db.knex = openBilling(dialect, url, { min: 0, max: 10 });
    },
    async drop() {
      await db.knex.destroy();
      const a = openBilling(dialect, adminUrl, { min: 0, max: 1 });
      try {
        if (dialect === 'pg') await a.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        else await a.raw(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await a.destroy();
      }
    },
  };
  return db;
}
