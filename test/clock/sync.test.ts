// `sync --all` with the billing's clock at UTC+5, on both servers: the sample written as the
// billing's wall clock gives the platform exactly what it gives at UTC (what has expired, what
// starts later, the multitarif windows), and every account's next timer is the real instant of
// its next change. Read with a UTC clock instead, the same data would be five hours off: the
// service that expired two hours ago would still be "in force" (checked too, so the test bites).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UTC_CLOCK } from '../../src/billing/clock.js';
import { billingReader } from '../../src/billing/read.js';
import { silentLogger } from '../../src/log.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { syncAll } from '../../src/reconcile/sync.js';
import { createPlatformClient, type PlatformClient } from '../../src/smotreshka/client.js';
import { type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { migrateUp } from '../../src/state/migrate.js';
import { StateStore } from '../../src/state/store.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { type BillingClockSetting, setBillingClock } from '../support/billing-clock.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';

const A = SAMPLE.accounts;
const OPTIONS = {
  idMode: 'accountId' as const,
  usernamePrefix: 'op_',
  emailTemplate: '{username}@op.example',
};

describe.each(DIALECTS)('sync on %s with the billing clock at UTC+5', (dialect) => {
  let zoned: BillingClockSetting;
  let db: TestDatabase;
  let sim: Simulator;
  let client: PlatformClient;
  let store: StateStore;
  const loadedAt = new Date();

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'syclk');
    zoned = await setBillingClock(db, 'Asia/Yekaterinburg');
    await createLanbillingSchema(db.knex, dialect);
    await loadSample(db.knex, dialect, loadedAt, zoned.clock);
    await migrateUp(db.knex, { dialect, prefix: 'lifestream_', captureMode: 'triggers' });
    sim = await startSimulator({ port: 0 });
    client = createPlatformClient({ url: sim.url, concurrency: 8, timeoutMs: 5000, retries: 1 });
    store = new StateStore(db.knex, 'lifestream_');
  });
  afterAll(async () => {
    await client?.close();
    await sim?.close();
    await zoned?.close();
  });

  const platformSubs = (login: string) => {
    const acc = sim.store.byName(`op_${login}`);
    return acc ? [...acc.subscriptions].sort() : null;
  };

  it('gives the platform what the billing means, and times every next change at its real instant', async () => {
    const reconciler = new Reconciler({
      billing: billingReader(db.knex, zoned.clock),
      store,
      platform: client,
      options: OPTIONS,
      logger: silentLogger,
    });
    const report = await syncAll(reconciler, { dryRun: false, concurrency: 4 });
    expect(report.accounts).toBe(SAMPLE.liveVgIds.length);
    expect(platformSubs(A.svcBasic.login)).toEqual(['100', '5010', '5011']);
    expect(platformSubs(A.svcExpired.login)).toEqual(['100']); // 5010 ended two hours ago
    expect(platformSubs(A.svcFuture.login)).toEqual(['100']); // 5012 starts in three days
    expect(platformSubs(A.svcExpiringSoon.login)).toEqual(['101']); // ends in five minutes
    expect(platformSubs(A.inetTvB.login)).toEqual(['100', '5013']); // switched A→B an hour ago
    expect(platformSubs(A.inetMulti.login)).toEqual(['100', '5011']);
    expect(platformSubs(A.inetMultiExpired.login)).toBeNull(); // its multitarif ended yesterday
    expect(platformSubs(A.inetMultiFuture.login)).toBeNull(); // starts in two days

    const minutes = async (vgId: number) =>
      ((await store.get(vgId))!.nextAt!.getTime() - loadedAt.getTime()) / 60_000;
    expect(await minutes(A.svcExpiringSoon.vgId)).toBeCloseTo(5, 0);
    expect(await minutes(A.svcFuture.vgId)).toBeCloseTo(3 * 24 * 60, 0);
  });

  it('the same rows read as UTC would be five hours off (the control)', async () => {
    const wrong = await billingReader(db.knex, UTC_CLOCK).loadAccount(A.svcExpired.vgId, new Date());
    expect(desiredState(wrong!, new Date(), OPTIONS).subscriptions).toEqual(['100', '5010']);
  });
});
