// The `run` command as an operator meets it: refuses an unprepared database with a clear message,
// serves /health (200 healthy, 503 when the platform fails), lets a second instance stand by, and
// stops cleanly on SIGTERM. PostgreSQL only: the command's wiring is the same on both dialects,
// and the pipeline tests run on both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { silentLogger } from '../../src/log.js';
import { type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { migrateUp } from '../../src/state/migrate.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { changeCalls, lastSeq } from '../support/platform-calls.js';
import { cli, freePort, writeConfig } from '../support/run-child.js';

const A = SAMPLE.accounts;

describe('lbcore-lifestream run', () => {
  let db: TestDatabase;
  let sim: Simulator;
  let config: Record<string, unknown>;
  let port: number;

  beforeAll(async () => {
    db = await createTestDatabase('pg', 'run');
    await createLanbillingSchema(db.knex, 'pg');
    await loadSample(db.knex, 'pg', new Date());
    sim = await startSimulator({ port: 0 });
    port = await freePort();
    config = {
      listen: `127.0.0.1:${port}`,
      billing: { client: 'pg', connection: db.url },
      smotreshka: { url: sim.url, usernamePrefix: 'op_', retries: 0, timeoutMs: 2000 },
      log: { format: 'json' },
    };
  });
  afterAll(async () => {
    await sim?.close();
    await db?.drop();
  });

  it('refuses a database `migrate` has not prepared, naming the command to run', async () => {
    const run = cli(['run', '--config', writeConfig(config)]);
    expect((await run.exited).code).toBe(2);
    expect(run.output()).toMatch(
      /pending migrations: 001_account_state.*run `lbcore-lifestream migrate` first/,
    );
  });

  it('serves /health, propagates, lets a second instance stand by, stops on SIGTERM', async () => {
    const parsed = (await import('../../src/config.js')).parseConfig(config);
    const app = await createApp(parsed, silentLogger);
    await migrateUp(app.knex, app.migration);
    await app.close();

    const file = writeConfig(config);
    const run = cli(['run', '--config', file]);
    try {
      await run.waitForOutput(/propagating billing changes/);
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({
        healthy: true,
        role: 'active',
        billing: { reachable: true },
        capture: { mode: 'triggers' },
        queue: { pending: 0 },
      });

      const mark = lastSeq(sim);
      await db.knex('vgroups').where({ vg_id: A.svcBasic.vgId }).update({ blocked: 3 });
      const deadline = Date.now() + 10_000;
      while (!changeCalls(sim, mark).some((c) => c.text === 'state op_svc-basic suspended_manually 35000')) {
        if (Date.now() > deadline) throw new Error(`not propagated; output:\n${run.output().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }

      // a second instance on another port: the leader lock keeps it standing by
      const port2 = await freePort();
      const standby = cli(['run', '--config', writeConfig({ ...config, listen: `127.0.0.1:${port2}` })]);
      try {
        await standby.waitForOutput(/standing by/);
        expect(await (await fetch(`http://127.0.0.1:${port2}/health`)).json()).toMatchObject({
          role: 'standby',
          healthy: true,
        });
      } finally {
        standby.child.kill('SIGTERM');
        expect((await standby.exited).code).toBe(0);
      }

      // the platform failing: /health says so with 503
      sim.faults.add({ kind: '5xx', status: 503 });
      await db.knex('vgroups').where({ vg_id: A.svcBasic.vgId }).update({ blocked: 0 });
      type Report = { healthy: boolean; problems: string[]; platform: { reachable: boolean | null } };
      const failing = async (): Promise<{ status: number; report: Report } | null> => {
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        const report = (await res.json()) as Report;
        return report.platform.reachable === false ? { status: res.status, report } : null;
      };
      let seen = await failing();
      for (let i = 0; i < 200 && !seen; i++) {
        await new Promise((r) => setTimeout(r, 50));
        seen = await failing();
      }
      expect(seen?.status).toBe(503);
      expect(seen?.report.healthy).toBe(false);
      expect(seen?.report.problems.join()).toMatch(/platform/);
      sim.faults.clear();

      run.child.kill('SIGTERM');
      const exit = await run.exited;
      expect(exit.code).toBe(0);
      expect(run.output()).toMatch(/"msg":"stopped"/);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});
