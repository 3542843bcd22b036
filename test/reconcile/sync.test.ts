// sync against the real billing databases and the simulator: the dry-run lists what it should,
// a real run converges, a second run makes no changing call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UTC_CLOCK } from '../../src/billing/clock.js';
import { TariffCategoryCache } from '../../src/billing/offers.js';
import { billingReader } from '../../src/billing/read.js';
import { silentLogger } from '../../src/log.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { syncAccounts, syncAll } from '../../src/reconcile/sync.js';
import { createPlatformClient, type PlatformClient } from '../../src/smotreshka/client.js';
import { type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { migrateUp } from '../../src/state/migrate.js';
import { StateStore } from '../../src/state/store.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';

const A = SAMPLE.accounts;
const CHANGING = new Set(['POST', 'DELETE', 'PUT']);

describe.each(DIALECTS)('sync on %s', (dialect) => {
  let db: TestDatabase;
  let sim: Simulator;
  let client: PlatformClient;
  let reconciler: Reconciler;
  let store: StateStore;

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'sync');
    await createLanbillingSchema(db.knex, dialect);
    await loadSample(db.knex, dialect, new Date());
    await migrateUp(db.knex, { dialect, prefix: 'lifestream_', captureMode: 'triggers' });
    sim = await startSimulator({ port: 0 });
    client = createPlatformClient({ url: sim.url, concurrency: 8, timeoutMs: 5000, retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20 });
    store = new StateStore(db.knex, 'lifestream_');
    reconciler = new Reconciler({
      billing: billingReader(db.knex, UTC_CLOCK),
      store,
      platform: client,
      options: { idMode: 'accountId', usernamePrefix: 'op_', emailTemplate: '{username}@op.users-mail.lfstrm.tv' },
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await client?.close();
    await sim?.close();
    await db?.drop();
  });

  const changingCalls = () => sim.recorder.since(0, 1_000_000).calls.filter((c) => CHANGING.has(c.method)).length;
  const platformSubs = (login: string) => {
    const acc = sim.store.byName(`op_${login}`);
    return acc ? [...acc.subscriptions].sort() : null;
  };

  it('dry-run lists every discrepancy and changes nothing', async () => {
    // something on the platform the billing doesn't know about
    await client.createAccount({ username: 'op_ghost', email: 'ghost@example.org', purchases: ['100'] });
    sim.recorder.clear();
    const report = await syncAll(reconciler, { dryRun: true, concurrency: 4 });
    expect(changingCalls()).toBe(0);
    expect(await db.knex('lifestream_accounts').count({ n: '*' })).toEqual([{ n: expect.anything() }]);
    expect(Number((await db.knex('lifestream_accounts').count({ n: '*' }))[0]!.n)).toBe(0);

    const by = (login: string) => report.remaining.filter((d) => d.username === `op_${login}`).map((d) => d.kind).sort();
    expect(report.accounts).toBe(SAMPLE.liveVgIds.length);
    expect(by(A.svcBasic.login)).toEqual(['account_missing', 'state_outdated']);
    expect(by(A.svcTwoBasics.login)).toEqual(['account_missing', 'conflict', 'state_outdated']);
    expect(by(A.svcUnknownUuid.login)).toEqual(['account_missing', 'mapping', 'state_outdated']);
    expect(by(A.svcMissingCategory.login)).toContain('mapping');
    expect(by(A.inetOnly.login)).toEqual([]);
    expect(by(A.svcArchived.login)).toEqual([]); // removed for good: never created
    expect(report.remaining.find((d) => d.username === 'op_ghost')).toMatchObject({ kind: 'platform_only_account', direction: 'platform_only' });
  });

  it('a real run converges the platform to the billing', async () => {
    const report = await syncAll(reconciler, { dryRun: false, concurrency: 4 });
    expect(report.errors).toBe(1); // 5099 is archived on the platform: svc-archived-subscription parked
    expect(platformSubs(A.svcBasic.login)).toEqual(['100', '5010', '5011']);
    expect(platformSubs(A.svcTwoBasics.login)).toEqual(['101']);
    expect(platformSubs(A.svcBlockedBalance.login)).toEqual([]);
    expect(platformSubs(A.svcExpired.login)).toEqual(['100']);
    expect(platformSubs(A.svcFuture.login)).toEqual(['100']);
    expect(platformSubs(A.svcUnknownUuid.login)).toEqual(['100']);
    expect(platformSubs(A.svcArchivedSubscription.login)).toEqual(['100']);
    expect(platformSubs(A.inetTvA.login)).toEqual(['101', '5010']);
    expect(platformSubs(A.inetTvB.login)).toEqual(['100', '5013']);
    expect(platformSubs(A.inetMulti.login)).toEqual(['100', '5011']);
    expect(platformSubs(A.inetMultiExpired.login)).toBeNull();
    expect(platformSubs(A.inetOnly.login)).toBeNull();
    expect(platformSubs(A.svcArchived.login)).toBeNull();
    expect(sim.store.byName(`op_${A.svcNoEmail.login}`)?.email).toBe('op_svc-no-email@op.users-mail.lfstrm.tv');
    expect(sim.store.byName(`op_${A.svcBlockedBalance.login}`)?.state).toMatchObject({
      balance: -1250,
      status: 'suspended_no_funds',
      tvSuspended: true,
      recommendedRefill: 1250,
    });
    const parked = await store.listParked();
    expect(parked.map((p) => [p.vgId, p.reason]).sort()).toEqual(
      [
        [A.svcUnknownUuid.vgId, 'mapping'],
        [A.svcMissingCategory.vgId, 'mapping'],
        [A.svcArchivedSubscription.vgId, 'archived_subscription'],
      ].sort(),
    );
    expect((await store.get(A.svcFuture.vgId))?.nextAt).toBeInstanceOf(Date);
  });

  it('a second run makes no changing call', async () => {
    sim.recorder.clear();
    const report = await syncAll(reconciler, { dryRun: false, concurrency: 4 });
    const changing = sim.recorder.since(0, 1_000_000).calls.filter((c) => CHANGING.has(c.method) && !JSON.stringify(c.body).includes('5099'));
    expect(changing.map((c) => `${c.method} ${c.path} ${JSON.stringify(c.body)}`)).toEqual([]);
    expect(report.changed).toBe(0);
  });

  it('a subscription switched on on the platform: listed apart and left to the scan under mirror, switched off by sync under revert', async () => {
    const vg = A.svcBasic.vgId;
    const acc = sim.store.byName(`op_${A.svcBasic.login}`)!;
    await client.setSubscription(acc.id, '5012', true);
    const categories = new TariffCategoryCache(db.knex);
    const platformSide = expect.objectContaining({ kind: 'switched_on_platform', direction: 'platform_side', detail: expect.stringContaining('5012') });

    const dry = await syncAccounts(reconciler, [vg], { dryRun: true, concurrency: 1, categories });
    expect(dry.remaining).toEqual([platformSide]);
    const real = await syncAccounts(reconciler, [vg], { dryRun: false, concurrency: 1, categories });
    expect(real.calls).toEqual({ create: 0, enable: 0, disable: 0, state: 0 });
    expect(real.remaining).toEqual([platformSide]);
    expect(platformSubs(A.svcBasic.login)).toEqual(['100', '5010', '5011', '5012']);

    const reverting = new Reconciler({ ...reconciler.deps, options: { ...reconciler.deps.options, platformChanges: 'revert' } });
    const dryRevert = await syncAccounts(reverting, [vg], { dryRun: true, concurrency: 1, categories });
    expect(dryRevert.remaining).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'subscription_extra', direction: 'platform_only' }), platformSide]),
    );
    await syncAccounts(reverting, [vg], { dryRun: false, concurrency: 1 });
    expect(platformSubs(A.svcBasic.login)).toEqual(['100', '5010', '5011']);
  });

  it('a subscription switched off on the platform: sync restores it (billing → platform) and its dry run shows both directions', async () => {
    const vg = A.svcBasic.vgId;
    const acc = sim.store.byName(`op_${A.svcBasic.login}`)!;
    await client.setSubscription(acc.id, '5010', false);
    const categories = new TariffCategoryCache(db.knex);
    const dry = await syncAccounts(reconciler, [vg], { dryRun: true, concurrency: 1, categories });
    expect(dry.remaining.map((d) => [d.kind, d.direction]).sort()).toEqual([
      ['subscription_missing', 'billing_only'],
      ['switched_off_platform', 'platform_side'],
    ]);
    // propagation leaves it to the platform scan; sync puts it back
    expect((await reconciler.reconcile(vg)).made).toEqual([]);
    const real = await syncAccounts(reconciler, [vg], { dryRun: false, concurrency: 1, categories });
    expect(real.calls.enable).toBe(1);
    expect(real.remaining).toEqual([]);
    expect(platformSubs(A.svcBasic.login)).toEqual(['100', '5010', '5011']);
  });

  it('sync of one account by login after a billing change: block, then unblock', async () => {
    const vg = A.svcBasic.vgId;
    await db.knex('vgroups').where({ vg_id: vg }).update({ blocked: 3 });
    await syncAccounts(reconciler, [vg], { dryRun: false, concurrency: 1 });
    expect(platformSubs(A.svcBasic.login)).toEqual([]);
    expect(sim.store.byName(`op_${A.svcBasic.login}`)?.state).toMatchObject({ status: 'suspended_manually', tvSuspended: true });
    await db.knex('vgroups').where({ vg_id: vg }).update({ blocked: 0 });
    await syncAccounts(reconciler, [vg], { dryRun: false, concurrency: 1 });
    expect(platformSubs(A.svcBasic.login)).toEqual(['100', '5010', '5011']);
    expect(sim.store.byName(`op_${A.svcBasic.login}`)?.state).toMatchObject({ status: 'active', tvSuspended: false });
  });
});
