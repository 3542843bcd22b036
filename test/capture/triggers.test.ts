// The capture objects on the real servers (PostgreSQL 15, MariaDB 10.11 and, when it runs, MariaDB
// 10.1 with the vendor's triggers and a STATEMENT binlog), on the real LANBilling schema: install
// and uninstall are idempotent and touch nothing else; a dropped or altered trigger is noticed and
// restored; the change log gets the keys of what changed, in the writer's transaction, whoever the
// writer is (the billing's own DML-only user); the reader's batch never makes a billing writer
// wait; the first release's change log is converted on upgrade.
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureNames, inspectTriggerCapture } from '../../migrations/capture/index.js';
import { triggerCaptureProblems } from '../../src/capture/triggers/checks.js';
import { CaptureWatch } from '../../src/capture/triggers/watch.js';
import type { Logger } from '../../src/log.js';
import { checkHealth } from '../../src/ops/health.js';
import { ChangeLog } from '../../src/state/changelog.js';
import { migrateDown, migrateUp } from '../../src/state/migrate.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { billingSession, createBillingUser, type DbUser } from '../support/db-users.js';
import { TRIGGER_SERVERS } from '../support/legacy.js';
import { installV1 } from './v1-capture.js';

const PREFIX = 'lifestream_';
const N = captureNames(PREFIX);
const svc = SAMPLE.accounts.svcBasic;
const other = SAMPLE.accounts.svcBlockedBalance;

async function rowsOf(knex: Knex, dialect: string, sql: string, b: unknown[] = []) {
  const r = await knex.raw(sql, b as Knex.RawBinding[]);
  return (dialect === 'pg' ? r.rows : r[0]) as Record<string, unknown>[];
}

/** Every object in the database, by kind: what install and uninstall may change. */
async function inventory(db: TestDatabase) {
  const names = (rows: Record<string, unknown>[]) => rows.map((r) => String(r.n)).sort();
  const q = (sql: string) => rowsOf(db.knex, db.dialect, sql).then(names);
  if (db.dialect === 'pg')
    return {
      tables: await q("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public'"),
      triggers: await q('SELECT tgname AS n FROM pg_trigger WHERE NOT tgisinternal'),
      functions: await q("SELECT proname AS n FROM pg_proc WHERE pronamespace = 'public'::regnamespace"),
    };
  return {
    tables: await q('SELECT table_name AS n FROM information_schema.tables WHERE table_schema = DATABASE()'),
    triggers: await q(
      'SELECT trigger_name AS n FROM information_schema.triggers WHERE trigger_schema = DATABASE()',
    ),
    functions: await q(
      'SELECT routine_name AS n FROM information_schema.routines WHERE routine_schema = DATABASE()',
    ),
  };
}

/** The change log as "table:op:key", sorted. */
async function logged(knex: Knex): Promise<string[]> {
  const rows = await knex(N.changes).select(
    'table_name',
    'op',
    'vg_id',
    'agrm_id',
    'uid',
    'tar_id',
    'serv_cat_idx',
  );
  return rows
    .map((r) => {
      const key = ['vg_id', 'agrm_id', 'uid', 'tar_id', 'serv_cat_idx']
        .filter((k) => r[k] !== null)
        .map((k) => `${k}=${r[k]}`)
        .join(',');
      return `${r.table_name}:${r.op}:${key}`;
    })
    .sort();
}

describe.each(TRIGGER_SERVERS)('capture triggers on $label', ({ dialect, server }) => {
  let db: TestDatabase;
  let billing: DbUser;
  let writer: Knex;
  const ctx = { dialect, prefix: PREFIX, captureMode: 'triggers' as const };
  const tvIdx = SAMPLE.categoryIdx;

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'trg', server);
    await createLanbillingSchema(db.knex, dialect);
    await loadSample(db.knex, dialect, new Date());
    billing = await createBillingUser(db, PREFIX);
    writer = billingSession(dialect, billing.url);
  });
  afterAll(async () => {
    await writer?.destroy();
    await billing?.drop();
    await db?.drop();
  });

  it('install is idempotent, uninstall removes exactly what it added; dropped and altered triggers are restored', async () => {
    const before = await inventory(db);
    expect(before.triggers.filter((t) => t.startsWith(PREFIX))).toEqual([]);
    const applied = await migrateUp(db.knex, ctx);
    expect(applied).toEqual(expect.arrayContaining(['002_propagation', '007_typed_changelog']));
    expect(await migrateUp(db.knex, ctx)).toEqual([]);

    const installed = await inventory(db);
    const ours = N.triggers()
      .map((t) => t.name)
      .sort();
    // the billing's own (the vendor's tm_* journals and check_block on MySQL) stay as they are
    expect(installed.triggers).toEqual([...before.triggers, ...ours].sort());
    expect(installed.tables.filter((t) => !t.startsWith(PREFIX))).toEqual(before.tables);
    expect(installed.tables).toEqual(expect.arrayContaining([N.changes, N.objects]));
    expect(installed.functions.filter((f) => !before.functions.includes(f))).toEqual(
      dialect === 'pg'
        ? ['accounts', 'agreements', 'multitarifs', 'service_categories', 'services', 'vgroups'].map(
            (t) => `${PREFIX}capture_${t}`,
          )
        : [],
    );
    expect(await inspectTriggerCapture(db.knex, ctx)).toEqual({ tableMissing: false, problems: [] });

    // a LANBilling upgrade drops a trigger it doesn't know
    const victim = N.trigger('services', 'upd');
    await db.knex.raw(dialect === 'pg' ? `DROP TRIGGER ${victim} ON services` : `DROP TRIGGER ${victim}`);
    expect((await inspectTriggerCapture(db.knex, ctx)).problems).toEqual([
      { name: victim, kind: 'trigger', table: 'services', problem: 'missing' },
    ]);
    expect(await migrateUp(db.knex, ctx)).toEqual([`capture objects restored: ${victim} (missing)`]);

    // ...or leaves one that no longer does what was installed
    const altered = N.trigger('agreements', 'upd');
    if (dialect === 'pg') await db.knex.raw(`ALTER TABLE agreements DISABLE TRIGGER ${altered}`);
    else {
      const [[t]] = await db.knex.raw(
        'SELECT action_timing AS timing FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND trigger_name = ?',
        [altered],
      );
      await db.knex.raw(`DROP TRIGGER ${altered}`);
      await db.knex.raw(
        `CREATE TRIGGER ${altered} ${t.timing} UPDATE ON agreements FOR EACH ROW SET @nothing = 1`,
      );
    }
    expect((await inspectTriggerCapture(db.knex, ctx)).problems).toEqual([
      { name: altered, kind: 'trigger', table: 'agreements', problem: 'altered' },
    ]);
    expect(await migrateUp(db.knex, ctx)).toEqual([`capture objects restored: ${altered} (altered)`]);
    expect(await inspectTriggerCapture(db.knex, ctx)).toEqual({ tableMissing: false, problems: [] });

    await migrateDown(db.knex, ctx);
    expect(await inventory(db)).toEqual(before);
    // uninstall in debezium mode still removes what trigger mode installed
    await migrateUp(db.knex, ctx);
    await migrateDown(db.knex, { ...ctx, captureMode: 'debezium' });
    expect(await inventory(db)).toEqual(before);
    await migrateUp(db.knex, ctx);
  });

  it.runIf(server === 'legacy')(
    'takes BEFORE slots where the vendor holds AFTER, and refuses only when both are taken, naming them',
    async () => {
      const timing = await rowsOf(
        db.knex,
        dialect,
        'SELECT trigger_name AS n, action_timing AS t FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND trigger_name LIKE ?',
        [`${PREFIX}%`],
      );
      const slot = Object.fromEntries(timing.map((r) => [String(r.n), String(r.t)]));
      for (const { name, table } of N.triggers())
        expect([name, slot[name]]).toEqual([
          name,
          ['vgroups', 'agreements'].includes(table) ? 'BEFORE' : 'AFTER',
        ]);

      await migrateDown(db.knex, ctx);
      await db.knex.raw('CREATE TRIGGER someone_elses BEFORE UPDATE ON agreements FOR EACH ROW SET @x = 1');
      await expect(migrateUp(db.knex, ctx)).rejects.toThrow(
        /no free trigger slot for UPDATE on agreements: AFTER UPDATE is held by trigger `agreements_update_tm` and BEFORE UPDATE by `someone_elses`/,
      );
      // nothing of ours was left half-installed on the billing's tables
      expect((await inventory(db)).triggers.filter((t) => t.startsWith(PREFIX))).toEqual([]);
      await db.knex.raw('DROP TRIGGER someone_elses');
      await migrateDown(db.knex, ctx);
      await migrateUp(db.knex, ctx);
      expect(await inspectTriggerCapture(db.knex, ctx)).toEqual({ tableMissing: false, problems: [] });
    },
  );

  it("logs the keys of what changed, in the writer's transaction, for the billing's own DML-only user", async () => {
    await db.knex(N.changes).delete();
    const w = writer;
    const [inserted] = await w('services').insert(
      {
        vg_id: svc.vgId,
        tar_id: 10,
        serv_cat_idx: tvIdx[10]!['5012']!,
        timefrom: '2026-01-01 00:00:00',
        state: 1,
      },
      'service_id',
    );
    const serviceId = Number(typeof inserted === 'object' ? inserted.service_id : inserted);
    await w('services').where({ service_id: serviceId }).update({ state: 3 });
    await w('services').where({ service_id: serviceId }).update({ state: 3 }); // no change
    await w('services').where({ service_id: serviceId }).update({ comment: 'a note', mul: '2' }); // not read
    await w('services').where({ service_id: serviceId }).update({ vg_id: other.vgId }); // moved
    await w('vgroups').where({ vg_id: svc.vgId }).update({ descr: 'renamed' }); // not read
    await w('vgroups').where({ vg_id: svc.vgId }).update({ blocked: 3 });
    await w('accounts').where({ uid: svc.uid }).update({ email: 'new@example.ru' });
    await w('service_categories')
      .where({ tar_id: 10, serv_cat_idx: tvIdx[10]!['5012']! })
      .update({ available: 0 });
    // a charging run: one statement, three agreements
    await w('agreements')
      .whereIn('agrm_id', [501, 502, 503])
      .update({ balance: w.raw('balance + 1') });
    await w
      .transaction(async (trx) => {
        await trx('vgroups').where({ vg_id: other.vgId }).update({ blocked: 2 });
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await w('services').where({ service_id: serviceId }).delete();

    const cat = `tar_id=10,serv_cat_idx=${tvIdx[10]!['5012']}`;
    expect(await logged(db.knex)).toEqual(
      [
        `services:I:vg_id=${svc.vgId}`,
        `services:U:vg_id=${svc.vgId}`,
        `services:U:vg_id=${svc.vgId}`,
        `services:U:vg_id=${other.vgId}`,
        `vgroups:U:vg_id=${svc.vgId}`,
        `accounts:U:uid=${svc.uid}`,
        `service_categories:U:${cat}`,
        'agreements:U:agrm_id=501',
        'agreements:U:agrm_id=502',
        'agreements:U:agrm_id=503',
        `services:D:vg_id=${other.vgId}`,
      ].sort(),
    );
    const [{ created_at: at }] = await db.knex(N.changes).select('created_at').limit(1);
    expect(Math.abs((at as Date).getTime() - Date.now())).toBeLessThan(60_000);
  });

  it.runIf(dialect === 'mysql')(
    'a vgroup inserted without its id is not logged (its services are), one with an explicit id is',
    async () => {
      await db.knex(N.changes).delete();
      const cols = (
        await rowsOf(
          db.knex,
          dialect,
          "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'vgroups' AND column_name NOT IN ('vg_id', 'login', 'last_mod_date')",
        )
      ).map((r) => `\`${r.c}\``);
      // a copy of an existing vgroup (its references hold), once with the id left to AUTO_INCREMENT
      const copy = (id: string, login: string) =>
        writer.raw(
          `INSERT INTO vgroups (${id ? 'vg_id, ' : ''}login, ${cols.join(', ')}) SELECT ${id ? `${id}, ` : ''}?, ${cols.join(', ')} FROM vgroups WHERE vg_id = ?`,
          [login, svc.vgId],
        );
      const [{ insertId: vgId }] = await copy('', 'brand-new');
      await copy('9999', 'explicit-id');
      const logs = await logged(db.knex);
      expect(logs).toContain('vgroups:I:vg_id=9999');
      // AFTER INSERT (several triggers per slot) sees the new id; BEFORE INSERT (10.1) does not
      expect(logs.includes(`vgroups:I:vg_id=${vgId}`)).toBe(server === 'current');
    },
  );

  it('the billing writes with whatever search_path or sql_mode its session has', async () => {
    await db.knex(N.changes).delete();
    const session = await writer.client.acquireConnection();
    try {
      const run = (sql: string, b: unknown[] = []) =>
        writer.raw(sql, b as Knex.RawBinding[]).connection(session);
      if (dialect === 'pg') {
        // a schema of its own first on the path, with a table of the change log's name in it
        await db.knex.raw(`CREATE SCHEMA IF NOT EXISTS decoy`);
        await db.knex.raw(`CREATE TABLE IF NOT EXISTS decoy.${N.changes} (x int)`);
        await db.knex.raw(`GRANT USAGE, CREATE ON SCHEMA decoy TO "${billing.user}"`);
        await db.knex.raw(`GRANT ALL ON decoy.${N.changes} TO "${billing.user}"`);
        await run('SET search_path = decoy, public');
      } else {
        await run(
          "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO'",
        );
      }
      await run('UPDATE vgroups SET blocked = 0 WHERE vg_id = ?', [svc.vgId]);
      if (dialect === 'mysql') {
        // no warning either: under a STATEMENT binlog an AUTO_INCREMENT in the change log would make
        // every such write "unsafe" (a warning here and a line in the server's error log)
        const [warnings] = await run('SHOW WARNINGS');
        expect(warnings).toEqual([]);
      }
    } finally {
      await writer
        .raw(dialect === 'pg' ? 'RESET search_path' : "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'")
        .connection(session);
      await writer.client.releaseConnection(session);
    }
    expect(await logged(db.knex)).toEqual([`vgroups:U:vg_id=${svc.vgId}`]);
    if (dialect === 'pg') expect(await db.knex(`decoy.${N.changes}`).count({ n: '*' })).toEqual([{ n: '0' }]);
  });

  it("the reader's open batch never makes a billing writer wait", async () => {
    await db.knex(N.changes).delete();
    await writer('agreements').whereIn('agrm_id', [501, 503]).update({ credit: '1' });
    const log = new ChangeLog(db.knex, PREFIX, dialect);
    await db.knex.transaction(async (trx) => {
      const rows = await log.read(trx, 100);
      expect(rows.map((r) => r.event?.after)).toEqual([{ agrm_id: 501 }, { agrm_id: 503 }]);
      await log.remove(trx, rows);
      // the batch holds its locks until commit; meanwhile the billing writes, with a short lock
      // wait (a wait would fail it rather than pass unnoticed)
      const session = await writer.client.acquireConnection();
      try {
        const run = (sql: string, b: unknown[] = []) =>
          writer.raw(sql, b as Knex.RawBinding[]).connection(session);
        if (dialect === 'pg') await run("SET lock_timeout = '1s'");
        else await run('SET SESSION innodb_lock_wait_timeout = 1');
        await run('UPDATE agreements SET credit = 2 WHERE agrm_id IN (501, 503)');
        await run(
          'INSERT INTO services (vg_id, tar_id, serv_cat_idx, timefrom, state) VALUES (?, 10, ?, ?, 1)',
          [svc.vgId, tvIdx[10]!['5012']!, '2026-01-02 00:00:00'],
        );
      } finally {
        await writer.client.releaseConnection(session);
      }
    });
    // what the batch deleted is gone, what the writer logged meanwhile is there
    expect(await logged(db.knex)).toEqual(
      ['agreements:U:agrm_id=501', 'agreements:U:agrm_id=503', `services:I:vg_id=${svc.vgId}`].sort(),
    );
  });

  it.runIf(server === 'current')(
    "converts the first release's change log on upgrade, losing no waiting change",
    async () => {
      await migrateDown(db.knex, ctx);
      // the first release: migrations up to 005, its triggers and change log
      await migrateUp(db.knex, ctx);
      await db.knex('lifestream_migrations').where({ name: '007_typed_changelog' }).delete();
      await db.knex.raw(`DELETE FROM ${N.objects}`);
      for (const { table, name } of N.triggers())
        await db.knex.raw(dialect === 'pg' ? `DROP TRIGGER ${name} ON ${table}` : `DROP TRIGGER ${name}`);
      if (dialect === 'pg')
        for (const t of [
          'vgroups',
          'services',
          'agreements',
          'accounts',
          'service_categories',
          'multitarifs',
        ])
          await db.knex.raw(`DROP FUNCTION ${N.captureFunction(t as 'vgroups')}()`);
      await db.knex.raw(`DROP TABLE ${N.changes}`);
      await installV1(db.knex, dialect, PREFIX);
      // (the first release broke the billing's own user on PostgreSQL: issue 9)
      if (dialect === 'pg')
        await expect(writer('vgroups').where({ vg_id: svc.vgId }).update({ blocked: 3 })).rejects.toThrow(
          /permission denied for table lifestream_changelog/,
        );
      await db.knex('vgroups').where({ vg_id: svc.vgId }).update({ blocked: 3 });
      await db.knex('services').where({ vg_id: svc.vgId }).update({ vg_id: other.vgId });
      await db.knex('agreements').where({ agrm_id: 504 }).update({ balance: '1.23' });
      expect(await db.knex(N.v1.changelog).count({ n: '*' })).not.toEqual([{ n: 0 }]);

      expect(await migrateUp(db.knex, ctx)).toEqual(['007_typed_changelog']);
      const logs = await logged(db.knex);
      expect(new Set(logs)).toEqual(
        new Set([
          `vgroups:U:vg_id=${svc.vgId}`,
          `services:U:vg_id=${svc.vgId}`,
          `services:U:vg_id=${other.vgId}`,
          'agreements:U:agrm_id=504',
        ]),
      );
      const after = await inventory(db);
      expect(after.tables).not.toContain(N.v1.changelog);
      expect(after.triggers.filter((t) => t.endsWith('_notify'))).toEqual([]);
      expect(after.functions).not.toContain(N.v1.captureFunction);
      expect(await inspectTriggerCapture(db.knex, ctx)).toEqual({ tableMissing: false, problems: [] });
      // and the new triggers write the new log
      await db.knex(N.changes).delete();
      await writer('vgroups').where({ vg_id: svc.vgId }).update({ blocked: 0 });
      expect(await logged(db.knex)).toEqual([`vgroups:U:vg_id=${svc.vgId}`]);
    },
  );
  it('run notices a dropped capture trigger: an error in its log at each check, a problem on /health', async () => {
    await migrateUp(db.knex, ctx);
    const victim = N.trigger('vgroups', 'upd');
    await db.knex.raw(dialect === 'pg' ? `DROP TRIGGER ${victim} ON vgroups` : `DROP TRIGGER ${victim}`);
    const errors: unknown[] = [];
    const logger = { error: (o: unknown) => errors.push(o), warn: () => undefined } as unknown as Logger;
    const watch = new CaptureWatch({
      check: () => triggerCaptureProblems(db.knex, ctx),
      logger,
      intervalMs: 50,
    });
    watch.start();
    try {
      await expect.poll(() => errors.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
      const health = await checkHealth({
        pingBilling: async () => undefined,
        captureLagMs: async () => null,
        pendingCount: async () => 0,
        parkedCount: async () => 0,
        platform: () => ({ reachable: true }) as never,
        role: () => 'active',
        captureMode: 'triggers',
        captureProblems: () => watch.problems(),
        startedAt: new Date(),
      });
      expect(health.healthy).toBe(false);
      expect(health.problems).toEqual([
        `capture trigger ${victim} on vgroups is missing (a LANBilling upgrade drops triggers it doesn't know): changes there are not captured; \`lbcore-lifestream migrate\` restores it`,
      ]);
      expect(errors[0]).toEqual({ problem: health.problems[0] });
    } finally {
      await watch.stop();
    }
    await migrateUp(db.knex, ctx);
    expect(await triggerCaptureProblems(db.knex, ctx)).toEqual([]);
  });
});
