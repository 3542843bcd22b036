// The MySQL-5.6-class server of the tests: MariaDB 10.1.23 on LIFESTREAM_TEST_MYSQL_LEGACY (default
// port 3316), started by `bash scripts/ci/legacy-mariadb.sh start` (scripts/test-all.sh does). A
// test file on it is skipped with a message saying how to start it, except in CI (CI=true), where
// a missing server is a failure: CI always runs it.
import { openBilling } from '../../src/billing/connect.js';
import { redactUrl } from '../../src/config.js';
import { MYSQL_LEGACY_ADMIN } from './db.js';

async function answers(): Promise<string | null> {
  const knex = openBilling('mysql', MYSQL_LEGACY_ADMIN, { min: 0, max: 1 });
  try {
    const [rows] = await knex.raw('SELECT VERSION() AS v');
    return String(rows[0].v);
  } catch {
    return null;
  } finally {
    await knex.destroy();
  }
}

/** Whether the legacy server answers; prints why a suite is skipped when it doesn't. */
export async function legacyServerUp(): Promise<boolean> {
  const version = await answers();
  if (version) return true;
  const how = `MariaDB 10.1 does not answer at ${redactUrl(MYSQL_LEGACY_ADMIN)}: start it with \`bash scripts/ci/legacy-mariadb.sh start\` (scripts/test-all.sh does)`;
  if (process.env.CI) throw new Error(how);
  process.stderr.write(`[skipped] ${how}\n`);
  return false;
}

/** Top-level await in a test file: `describe.runIf(LEGACY)(...)`. */
export const LEGACY = await legacyServerUp();

export interface TestServer {
  dialect: 'pg' | 'mysql';
  server: 'current' | 'legacy';
  label: string;
}

/** Every server a trigger-capture test runs on: PostgreSQL, MariaDB 10.11 and, when it runs, 10.1. */
export const TRIGGER_SERVERS: TestServer[] = [
  { dialect: 'pg', server: 'current', label: 'PostgreSQL' },
  { dialect: 'mysql', server: 'current', label: 'MariaDB 10.11' },
  ...(LEGACY
    ? [{ dialect: 'mysql', server: 'legacy', label: 'MariaDB 10.1 (STATEMENT binlog)' } as const]
    : []),
];
