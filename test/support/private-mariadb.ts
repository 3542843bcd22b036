// A MariaDB server of the test's own, in a temporary folder on a free port, for tests that do what
// must not happen to the shared server (PURGE BINARY LOGS would cut every other engineer's
// connector off its position). Same binary as the machine's server, row-based binlog like
// scripts/ci/ensure-databases.sh sets. A user `lb` with every privilege, reachable over TCP.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBilling } from '../../src/billing/connect.js';
import { freePort } from './run-child.js';

const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL = '/usr/bin/mariadb-install-db';

export interface PrivateMariadb {
  /** mysql://lb:…@127.0.0.1:<port>/<database> */
  url(database: string): string;
  port: number;
  /** a statement as root over the socket */
  sql(statement: string): Promise<void>;
  stop(): Promise<void>;
}

/** Why a private server can't be started here, or null. */
export function privateMariadbProblem(): string | null {
  return existsSync(MARIADBD) && existsSync(INSTALL) ? null : `${MARIADBD} or ${INSTALL} is missing`;
}

export async function startPrivateMariadb(): Promise<PrivateMariadb> {
  const dir = mkdtempSync(join(tmpdir(), 'lifestream-mariadb-'));
  const data = join(dir, 'data');
  const socket = join(dir, 'sock');
  execFileSync(
    INSTALL,
    [
      '--no-defaults',
      `--datadir=${data}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--user=root',
    ],
    {
      stdio: 'ignore',
      timeout: 120_000,
    },
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    MARIADBD,
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${socket}`,
      `--pid-file=${join(dir, 'pid')}`,
      `--log-bin=${join(dir, 'binlog')}`,
      '--binlog-format=ROW',
      '--binlog-row-image=FULL',
      '--server-id=77',
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=64M',
      '--user=root',
    ],
    { stdio: 'ignore' },
  );
  const root = () =>
    openBilling('mysql', `mysql://root@localhost/mysql?socketPath=${encodeURIComponent(socket)}`, {
      min: 0,
      max: 1,
    });
  const sql = async (statement: string) => {
    const k = root();
    try {
      await k.raw(statement);
    } finally {
      await k.destroy();
    }
  };
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      if (!existsSync(socket)) throw new Error('no socket yet');
      await sql('SELECT 1');
      break;
    } catch (err) {
      if (Date.now() > end || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`the private MariaDB did not start: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  await sql("CREATE USER 'lb'@'%' IDENTIFIED BY 'lb-private-pw'");
  await sql("GRANT ALL PRIVILEGES ON *.* TO 'lb'@'%' WITH GRANT OPTION");
  return {
    port,
    url: (database) => `mysql://lb:lb-private-pw@127.0.0.1:${port}/${database}`,
    sql,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
