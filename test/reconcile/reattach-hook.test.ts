// Layout 2 through the reconciler: a tariff switch re-attaches the TV services under the new
// tariff before the platform is compared, so the subscriber keeps every subscription and the
// platform sees no disable/enable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UTC_CLOCK } from '../../src/billing/clock.js';
import { billingReader } from '../../src/billing/read.js';
import { reattachServices } from '../../src/billing/reattach.js';
import { silentLogger } from '../../src/log.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { createPlatformClient, type PlatformClient } from '../../src/smotreshka/client.js';
import { type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { migrateUp } from '../../src/state/migrate.js';
import { StateStore } from '../../src/state/store.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';

const A = SAMPLE.accounts;
const T = SAMPLE.tariffs;

describe.each(DIALECTS)('tariff switch through the reconciler on %s', (dialect) => {
  let db: TestDatabase;
  let sim: Simulator;
  let client: PlatformClient;
  let reconciler: Reconciler;

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'reat');
    await createLanbillingSchema(db.knex, dialect);
    await loadSample(db.knex, dialect, new Date());
    await migrateUp(db.knex, { dialect, prefix: 'lifestream_', captureMode: 'triggers' });
    sim = await startSimulator({ port: 0 });
    client = createPlatformClient({ url: sim.url, concurrency: 4, timeoutMs: 5000, retries: 0 });
    reconciler = new Reconciler({
      billing: billingReader(db.knex, UTC_CLOCK),
      store: new StateStore(db.knex, 'lifestream_'),
      platform: client,
      options: { idMode: 'accountId', usernamePrefix: '', emailTemplate: '{username}@x.users-mail.lfstrm.tv' },
      logger: silentLogger,
      reattach: async (vgId, at) => {
        const r = await reattachServices(db.knex, vgId, at, UTC_CLOCK);
        return r !== null && (r.moved.length > 0 || r.closed.length > 0);
      },
    });
  });
  afterAll(async () => {
    await client?.close();
    await sim?.close();
    await db?.drop();
  });

  it('keeps every subscription across A → B with no changing call, and the services now sit on B', async () => {
    const vg = A.inetTvA.vgId;
    await reconciler.reconcile(vg);
    expect([...(sim.store.byName(A.inetTvA.login)?.subscriptions ?? [])].sort()).toEqual(['101', '5010']);
    sim.recorder.clear();

    await db.knex('vgroups').where({ vg_id: vg }).update({ tar_id: T.internetTvB });
    const outcome = await reconciler.reconcile(vg);

    expect(outcome.made).toEqual([]);
    const changing = sim.recorder.since(0, 1000).calls.filter((c) => c.method !== 'GET');
    expect(changing).toEqual([]);
    const open = await db
      .knex('services as s')
      .join('service_categories as c', function () {
        this.on('c.tar_id', 's.tar_id').andOn('c.serv_cat_idx', 's.serv_cat_idx');
      })
      .where('s.vg_id', vg)
      .andWhere('s.timeto', '>', new Date())
      .andWhere('c.uuid', '<>', '')
      .select('s.tar_id', 'c.uuid');
    expect(open.map((r) => [Number(r.tar_id), r.uuid]).sort()).toEqual([
      [T.internetTvB, '101'],
      [T.internetTvB, '5010'],
    ]);
  });
});
