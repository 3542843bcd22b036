// `npm run demo [-- --keep-running]`: propagation live, on the embedded default. Creates (or
// recreates) the PostgreSQL database `lifestream_demo` with the LANBilling sample data, starts the
// built-in platform simulator, runs `migrate`, `sync --all` and then `run` (trigger capture) as the
// real command in a child process, and makes a few billing changes, printing after each what the
// platform received and how long after the commit. With --keep-running everything stays up for
// you to edit the billing by hand; the calls keep being printed as they arrive.
//
// Server: LIFESTREAM_DEMO_PG (default postgres://postgres@127.0.0.1:5432/postgres, the admin
// database used to create lifestream_demo). Files: .demo/lifestream.yml, .demo/run.log.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { stringify } from 'yaml';
import { openBilling } from '../src/billing/connect.js';
import { sqlDateTime } from '../src/billing/sql-time.js';
import { startSimulator } from '../src/smotreshka/simulator/index.js';
import { categoryIdx, TARIFFS } from '../test/fixture/catalogue.js';
import { createLanbillingSchema } from '../test/fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../test/fixture/sample.js';
import { PlatformView, type SeenCall } from './demo/platform-view.js';

const ROOT = new URL('..', import.meta.url).pathname;
const DIR = join(ROOT, '.demo');
const DB = 'lifestream_demo';
const ADMIN = process.env.LIFESTREAM_DEMO_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const KEEP = process.argv.includes('--keep-running');
const PREFIX = 'demo_';
const account = SAMPLE.accounts.svcBasic;
const username = `${PREFIX}${account.login}`;

const say = (text = '') => process.stdout.write(`${text}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function dbUrl(name: string): string {
  const u = new URL(ADMIN);
  u.pathname = `/${name}`;
  return u.toString();
}

async function portOr(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(null));
      srv.listen(port, '127.0.0.1', () => {
        const got = (srv.address() as { port: number }).port;
        srv.close(() => resolve(got));
      });
    });
  return (await tryListen(preferred)) ?? ((await tryListen(0)) as number);
}

/** The real command, from the sources (no stale build): node --import tsx src/cli.ts ... */
function cliArgs(args: string[]): string[] {
  return ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args, '--config', join(DIR, 'lifestream.yml')];
}

/** Runs a command to its end. Asynchronously: the simulator in this process must keep answering. */
async function cli(args: string[]): Promise<void> {
  say(bold(`$ lbcore-lifestream ${args.join(' ')} --config .demo/lifestream.yml`));
  const child = spawn(process.execPath, cliArgs(args), {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  // sync exits 1 when discrepancies remain: the sample has a few on purpose
  if (code !== 0 && !(args[0] === 'sync' && code === 1))
    throw new Error(`lbcore-lifestream ${args[0]} exited ${code}`);
}

async function recreateDatabase(): Promise<Knex> {
  const admin = openBilling('pg', ADMIN, { min: 0, max: 1 });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
    await admin.raw(`CREATE DATABASE "${DB}"`);
  } catch (err) {
    throw new Error(
      `cannot create the demo database on ${ADMIN.replace(/:[^:@/]*@/, ':***@')}: ${(err as Error).message}\n` +
        'Is PostgreSQL running? Point LIFESTREAM_DEMO_PG at an admin database URL, e.g. postgres://user:pass@host:5432/postgres',
    );
  } finally {
    await admin.destroy();
  }
  const knex = openBilling('pg', dbUrl(DB), { min: 0, max: 2 });
  await createLanbillingSchema(knex, 'pg');
  await loadSample(knex, 'pg', new Date());
  return knex;
}

function show(calls: SeenCall[], committedAt: number): void {
  if (calls.length === 0) say('    (nothing reached the platform)');
  for (const c of calls) say(`    → ${c.text.padEnd(58)} +${c.at - committedAt} ms after the commit`);
}

async function step(
  view: PlatformView,
  title: string,
  sql: string,
  change: () => Promise<unknown>,
  expect: number,
): Promise<void> {
  say();
  say(bold(`▸ ${title}`));
  say(`    ${sql}`);
  await view.read();
  await change();
  const committed = Date.now();
  show(await view.waitFor(username, expect, 5_000), committed);
  await sleep(700);
}

async function main(): Promise<void> {
  mkdirSync(DIR, { recursive: true });
  say(bold('lbcore-lifestream demo: LANBilling → Smotreshka propagation in trigger mode'));
  say();
  say(
    `1. A LANBilling database "${DB}" with the sample data (${SAMPLE.liveVgIds.length} accounts on the three tariff layouts)`,
  );
  const knex = await recreateDatabase();
  const sim = await startSimulator({ port: await portOr(8090) });
  say(`2. The platform simulator at ${sim.url} (control API: ${sim.url}/_simulator/)`);
  const listen = `127.0.0.1:${await portOr(8080)}`;
  writeFileSync(
    join(DIR, 'lifestream.yml'),
    stringify({
      listen,
      billing: { client: 'pg', connection: dbUrl(DB) },
      capture: { mode: 'triggers' },
      smotreshka: {
        url: sim.url,
        usernamePrefix: PREFIX,
        emailTemplate: '{username}@demo.users-mail.lfstrm.tv',
      },
      log: { level: 'info', format: 'pretty' },
    }),
  );
  say('3. The configuration: .demo/lifestream.yml');
  say();
  await cli(['migrate']);
  say();
  await cli(['sync', '--all']);

  const logFile = join(DIR, 'run.log');
  const log = openSync(logFile, 'w');
  const run: ChildProcess = spawn(process.execPath, cliArgs(['run']), {
    cwd: ROOT,
    stdio: ['ignore', log, log],
  });
  const stopRun = async () => {
    if (run.exitCode !== null) return;
    run.kill('SIGTERM');
    await new Promise((r) => run.once('exit', r));
  };
  process.once('exit', () => run.kill('SIGKILL'));
  say();
  say(
    bold('$ lbcore-lifestream run --config .demo/lifestream.yml') +
      `   (log: .demo/run.log; /health on http://${listen}/health)`,
  );
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://${listen}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (run.exitCode !== null || i > 150) throw new Error(`run did not come up; see ${logFile}`);
    await sleep(200);
  }
  say(
    `   running. Now some billing changes to ${bold(account.login)} (vg_id ${account.vgId}), platform user ${username}:`,
  );

  const view = new PlatformView(sim.url);
  await view.skip();
  const vg = { vg_id: account.vgId };
  const idx = (offer: '100' | '101' | '5012' | '5013') => categoryIdx(TARIFFS.tvServices, offer);
  const at = (ms: number) => sqlDateTime(new Date(Date.now() + ms));

  await step(
    view,
    'An administrator blocks the account',
    `UPDATE vgroups SET blocked = 3 WHERE vg_id = ${account.vgId};`,
    () => knex('vgroups').where(vg).update({ blocked: 3, blk_req: 3 }),
    4,
  );
  await step(
    view,
    '…and unblocks it',
    `UPDATE vgroups SET blocked = 0 WHERE vg_id = ${account.vgId};`,
    () => knex('vgroups').where(vg).update({ blocked: 0, blk_req: 0 }),
    4,
  );
  await step(
    view,
    'An additional service is assigned (5012 «Матч! Премьер»)',
    `INSERT INTO services (vg_id, tar_id, serv_cat_idx, timefrom, state) VALUES (${account.vgId}, ${TARIFFS.tvServices}, ${idx('5012')}, now(), 1);`,
    () =>
      knex('services').insert({
        ...vg,
        tar_id: TARIFFS.tvServices,
        serv_cat_idx: idx('5012'),
        timefrom: at(-1000),
        state: 1,
      }),
    1,
  );
  await step(
    view,
    'The basic subscription is switched 100 → 101, in one transaction',
    'BEGIN; UPDATE services SET timeto = now() WHERE … uuid 100; INSERT INTO services … uuid 101; COMMIT;',
    () =>
      knex.transaction(async (trx) => {
        await trx('services')
          .where({ ...vg, serv_cat_idx: idx('100') })
          .update({ timeto: at(-1000) });
        await trx('services').insert({
          ...vg,
          tar_id: TARIFFS.tvServices,
          serv_cat_idx: idx('101'),
          timefrom: at(-1000),
          state: 1,
        });
      }),
    2,
  );
  await step(
    view,
    'A balance change (the agreement goes to 12.34)',
    `UPDATE agreements SET balance = 12.34 WHERE agrm_id = ${account.agrmId};`,
    () => knex('agreements').where({ agrm_id: account.agrmId }).update({ balance: '12.34' }),
    1,
  );

  const expiry = at(6_000);
  await step(
    view,
    `A trial of 5013 «Amedia Premium» that ends at ${expiry} UTC (in ~6 s)`,
    `INSERT INTO services (vg_id, tar_id, serv_cat_idx, timefrom, timeto, state) VALUES (${account.vgId}, ${TARIFFS.tvServices}, ${idx('5013')}, now(), '${expiry}', 3);`,
    () =>
      knex('services').insert({
        ...vg,
        tar_id: TARIFFS.tvServices,
        serv_cat_idx: idx('5013'),
        timefrom: at(-1000),
        timeto: expiry,
        state: 3,
      }),
    1,
  );
  say(`    …no row changes when it ends; the service's timer for ${username} fires at ${expiry}:`);
  const expiryMs = new Date(`${expiry.replace(' ', 'T')}Z`).getTime();
  for (const c of await view.waitFor(username, 1, 10_000))
    say(`    → ${c.text.padEnd(58)} +${c.at - expiryMs} ms after ${expiry}`);
  say();
  say(`Platform now: ${username} has [${(await view.subscriptions(username)).join(', ')}]`);

  if (!KEEP) {
    await stopRun();
    await sim.close();
    await knex.destroy();
    say();
    say(`Done. Run \`npm run demo -- --keep-running\` to keep it up and edit the billing yourself.`);
    return;
  }

  say();
  say(bold('Still running. Edit the billing and watch the platform:'));
  say(`    psql ${dbUrl(DB)}`);
  say(`    UPDATE vgroups SET blocked = 2 WHERE login = 'svc-basic';`);
  say(`    UPDATE agreements SET balance = -50 WHERE agrm_id = ${SAMPLE.agreements.petrov.agrmId};`);
  say(
    `    INSERT INTO services (vg_id, tar_id, serv_cat_idx, timefrom, state) VALUES (${SAMPLE.accounts.svcFuture.vgId}, ${TARIFFS.tvServices}, ${idx('5012')}, now() AT TIME ZONE 'UTC', 1);`,
  );
  say(
    `Health: curl http://${listen}/health    Simulator: curl ${sim.url}/_simulator/accounts    Log: tail -f .demo/run.log`,
  );
  say('Ctrl-C stops everything. Calls as they arrive:');
  let stopping = false;
  process.once('SIGINT', () => {
    stopping = true;
  });
  process.once('SIGTERM', () => {
    stopping = true;
  });
  while (!stopping && run.exitCode === null) {
    for (const c of await view.read()) say(`    ${new Date(c.at).toISOString().slice(11, 23)}  → ${c.text}`);
    await sleep(200);
  }
  await stopRun();
  await sim.close();
  await knex.destroy();
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exit(1);
});
