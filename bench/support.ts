// Shared pieces of the benchmarks: a fresh billing database with generated accounts, the
// simulator in its own process (so its CPU and memory aren't counted against the service), and
// running the built CLI under /usr/bin/time for peak RSS.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { type Dialect, openBilling } from '../src/billing/connect.js';
import { migrateUp } from '../src/state/migrate.js';
import { loadCatalogue } from '../test/fixture/catalogue.js';
import { generateAccounts } from '../test/fixture/generate.js';
import { createLanbillingSchema } from '../test/fixture/lanbilling-schema.js';

export const PG_ADMIN = process.env.LIFESTREAM_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MYSQL_ADMIN = process.env.LIFESTREAM_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/mysql';

export function dbUrl(dialect: Dialect, name: string): string {
  const u = new URL(dialect === 'pg' ? PG_ADMIN : MYSQL_ADMIN);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops and creates `name`, loads the LANBilling schema, the catalogue and `count` accounts, migrates. */
export async function freshBillingDb(dialect: Dialect, name: string, count: number): Promise<{ url: string; knex: Knex; loadMs: number }> {
  const admin = openBilling(dialect, dialect === 'pg' ? PG_ADMIN : MYSQL_ADMIN, { min: 0, max: 1 });
  if (dialect === 'pg') {
    await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.raw(`CREATE DATABASE "${name}"`);
  } else {
    await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
    await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  }
  await admin.destroy();
  const url = dbUrl(dialect, name);
  const knex = openBilling(dialect, url, { min: 0, max: 4 });
  const now = new Date();
  const t0 = Date.now();
  await createLanbillingSchema(knex, dialect);
  await loadCatalogue(knex, now);
  if (count > 0) await generateAccounts(knex, dialect, { count, seed: 42, now });
  const loadMs = Date.now() - t0;
  await migrateUp(knex, { dialect, prefix: 'lifestream_', captureMode: 'triggers' });
  return { url, knex, loadMs };
}

export async function dropDb(dialect: Dialect, name: string): Promise<void> {
  const admin = openBilling(dialect, dialect === 'pg' ? PG_ADMIN : MYSQL_ADMIN, { min: 0, max: 1 });
  try {
    if (dialect === 'pg') await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    else await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await admin.destroy();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const CLI = join(process.cwd(), 'dist/src/cli.js');
/** the installed command: the launcher that caps the heap, as operators run it */
const BIN = join(process.cwd(), 'bin/lbcore-lifestream');

/** Starts `lbcore-lifestream simulator` as a child process; resolves once it listens. */
export async function startSimulatorProcess(): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'simulator', '--port', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('platform simulator')) resolve();
    });
  });
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export function writeConfig(dialect: Dialect, billingUrl: string, platformUrl: string, extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifestream-bench-'));
  const file = join(dir, 'config.json.yml');
  const config = {
    listen: '127.0.0.1:18999',
    billing: { client: dialect, connection: billingUrl, pool: { min: 0, max: 8 } },
    smotreshka: { url: platformUrl, concurrency: 64, usernamePrefix: 'b_', ...((extra.smotreshka as object) ?? {}) },
    log: { level: 'warn', format: 'json' },
  };
  writeFileSync(file, JSON.stringify(config)); // JSON is YAML
  return file;
}

/** Runs the installed command (bin/) under /usr/bin/time; returns stdout, exit code, wall time and peak RSS. */
export function runCli(args: string[]): Promise<{ stdout: string; stderr: string; code: number; wallMs: number; peakRssMb: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn('/usr/bin/time', ['-f', 'PEAK_RSS_KB=%M', BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const m = /PEAK_RSS_KB=(\d+)/.exec(stderr);
      if (!m) return reject(new Error(`no RSS figure; stderr: ${stderr.slice(-2000)}`));
      resolve({ stdout, stderr, code: code ?? -1, wallMs: Date.now() - t0, peakRssMb: Math.round(Number(m[1]) / 1024) });
    });
  });
}
