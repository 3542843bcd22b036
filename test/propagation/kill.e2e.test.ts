// kill -9 of `run` in the middle of a burst of 1,000 billing changes, twice: a standby instance
// takes over from the first, the second is restarted after the burst. Afterwards the platform
// holds exactly what the billing says: nothing was lost, and no account ended on a stale state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { parseConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { syncAll } from '../../src/reconcile/sync.js';
import { type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { ChangeLog } from '../../src/state/changelog.js';
import { migrateUp } from '../../src/state/migrate.js';
import { PendingStore } from '../../src/state/pending.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample } from '../fixture/sample.js';
import { billingBurst } from '../support/burst.js';
import { differences } from '../support/converged.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';
import { cli, freePort, type RunChild, writeConfig } from '../support/run-child.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe.each(DIALECTS)('kill -9 during a burst on %s', (dialect) => {
  let db: TestDatabase;
  let sim: Simulator;
  let app: App;
  let raw: Record<string, unknown>;
  const children: RunChild[] = [];

  const start = async () => {
    const child = cli(['run', '--config', writeConfig({ ...raw, listen: `127.0.0.1:${await freePort()}` })]);
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'kill');
    await createLanbillingSchema(db.knex, dialect);
    await loadSample(db.knex, dialect, new Date());
    sim = await startSimulator({ port: 0 });
    raw = {
      billing: { client: dialect, connection: db.url },
      smotreshka: { url: sim.url, usernamePrefix: 'op_', retries: 1, timeoutMs: 3000 },
      capture: { pollIntervalMs: 100 },
      log: { format: 'json' },
    };
    app = await createApp(parseConfig({ ...raw }), silentLogger);
    await migrateUp(app.knex, app.migration);
    await syncAll(app.reconciler, { dryRun: false, concurrency: 8 });
    expect(await differences(app, sim)).toEqual([]);
  });
  afterAll(async () => {
    for (const c of children)
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await app?.close();
    await sim?.close();
    await db?.drop();
  });

  it('a standby takes over, a restart catches up, and the platform ends equal to the billing', async () => {
    const first = await start();
    await first.waitForOutput(/propagating billing changes/);
    const standby = await start();
    await standby.waitForOutput(/standing by/);

    let killedAt = -1;
    const burst = billingBurst(db.knex, {
      changes: 1000,
      seed: dialect === 'pg' ? 11 : 12,
      onChange: (i) => {
        if (i === 300) {
          first.child.kill('SIGKILL');
          killedAt = i;
        }
      },
    });
    await standby.waitForOutput(/propagating billing changes/, 20_000);
    // the standby works through the rest of the burst until it is killed too
    await sleep(300);
    standby.child.kill('SIGKILL');
    await burst;
    expect(killedAt).toBe(300);
    expect((await first.exited).signal).toBe('SIGKILL');
    expect((await standby.exited).signal).toBe('SIGKILL');

    const pending = new PendingStore(db.knex, 'lifestream_', dialect);
    const changelog = new ChangeLog(db.knex, 'lifestream_', dialect);
    const left = (await changelog.count()) + (await pending.count());
    // the kill left work behind (otherwise this test proves nothing)
    expect(left).toBeGreaterThan(0);

    const restarted = await start();
    await restarted.waitForOutput(/propagating billing changes/);
    const deadline = Date.now() + 30_000;
    let diff: string[] = ['not checked'];
    while (Date.now() < deadline) {
      if ((await changelog.count()) === 0 && (await pending.count()) === 0) {
        diff = await differences(app, sim);
        if (diff.length === 0) break;
      }
      await sleep(200);
    }
    expect(diff).toEqual([]);
    restarted.child.kill('SIGTERM');
    expect((await restarted.exited).code).toBe(0);
  });
});
