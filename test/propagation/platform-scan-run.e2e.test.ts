// The platform scan as an operator meets it: `sync --from-platform --dry-run` lists a change made
// on the platform and exits 1, `--apply` writes it into the billing at once, and `run` scans on its
// own every smotreshka.scanIntervalSeconds. Real child processes on PostgreSQL (the wiring is the
// same on both dialects; test/reconcile/platform-scan.test.ts covers both). Slow: `run` scans at
// most every 10 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { parseConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { syncAll } from '../../src/reconcile/sync.js';
import { type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { migrateUp } from '../../src/state/migrate.js';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { cli, freePort, writeConfig } from '../support/run-child.js';

const A = SAMPLE.accounts;

describe('platform scan through the command line', () => {
  let db: TestDatabase;
  let sim: Simulator;
  let config: Record<string, unknown>;

  beforeAll(async () => {
    db = await createTestDatabase('pg', 'pscancli');
    await createLanbillingSchema(db.knex, 'pg');
    await loadSample(db.knex, 'pg', new Date());
    sim = await startSimulator({ port: 0 });
    config = {
      listen: `127.0.0.1:${await freePort()}`,
      billing: { client: 'pg', connection: db.url },
      smotreshka: {
        url: sim.url,
        usernamePrefix: 'op_',
        retries: 0,
        timeoutMs: 2000,
        pageSize: 5,
        scanIntervalSeconds: 10,
      },
      log: { format: 'json' },
    };
    const app = await createApp(parseConfig(config), silentLogger);
    try {
      await migrateUp(app.knex, app.migration);
      await syncAll(app.reconciler, { dryRun: false, concurrency: 4 });
    } finally {
      await app.close();
    }
  });
  afterAll(async () => {
    await sim?.close();
    await db?.drop();
  });

  const rows = (offer: '5012' | '5013') =>
    db
      .knex('services')
      .where({
        vg_id: A.svcBasic.vgId,
        tar_id: TARIFFS.tvServices,
        serv_cat_idx: categoryIdx(TARIFFS.tvServices, offer),
      });

  it('sync --from-platform --dry-run lists a switch-on and writes nothing; --apply assigns it at once', async () => {
    sim.store.byName(`op_${A.svcBasic.login}`)!.subscriptions.add('5012');
    const file = writeConfig(config);

    const dry = cli(['sync', '--from-platform', '--dry-run', '--config', file]);
    expect((await dry.exited).code).toBe(1);
    expect(dry.output()).toMatch(/op_svc-basic\s+5012 switched on \(offered\): assign it in the billing/);
    expect(await rows('5012')).toEqual([]);

    const bad = cli(['sync', '--from-platform', '--config', file]);
    expect((await bad.exited).code).toBe(2);

    const apply = cli(['sync', '--from-platform', '--apply', '--config', file]);
    expect((await apply.exited).code).toBe(0);
    expect(apply.output()).toMatch(/1 accounts changed \(billing: closed 0, assigned 1/);
    expect(await rows('5012')).toHaveLength(1);
  });

  it('run scans the platform on its own every scanIntervalSeconds', async () => {
    sim.store.byName(`op_${A.svcBasic.login}`)!.subscriptions.add('5013');
    const run = cli(['run', '--config', writeConfig(config)]);
    try {
      await run.waitForOutput(/propagating billing changes/);
      // first sighting after one interval, the assign on the second
      await run.waitForOutput(/"msg":"platform-side change mirrored into the billing"/, 40_000);
      expect(await rows('5013')).toHaveLength(1);
      expect(run.output()).toMatch(/"msg":"platform scan done"/);
    } finally {
      run.child.kill('SIGTERM');
      expect((await run.exited).code).toBe(0);
    }
  }, 60_000);
});
