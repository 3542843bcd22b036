// The platform scan writing back into a billing whose clock is at UTC+5, on both servers: a
// subscription switched off on the platform closes its services row at the moment it was first
// seen gone, as the billing's wall clock shows that moment; one switched on is assigned from the
// moment it was first seen, not yet activated (the zero date, never NULL); the notes in
// services.comment give the moments with the billing's offset. Read back as stored text.
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingReader } from '../../src/billing/read.js';
import { silentLogger } from '../../src/log.js';
import { scanPlatform } from '../../src/reconcile/platform-scan.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { syncAll } from '../../src/reconcile/sync.js';
import { createPlatformClient, type PlatformClient } from '../../src/smotreshka/client.js';
import { type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { migrateUp } from '../../src/state/migrate.js';
import { PlatformSeenStore } from '../../src/state/platform-seen.js';
import { StateStore } from '../../src/state/store.js';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { type BillingClockSetting, setBillingClock } from '../support/billing-clock.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';
import { setOnPlatform } from '../support/platform-calls.js';

const A = SAMPLE.accounts;
const PREFIX = 'op_';
const OPTIONS = { usernamePrefix: PREFIX, emailTemplate: '{username}@op.example' };

describe.each(DIALECTS)('platform-side changes on %s with the billing clock at UTC+5', (dialect) => {
  let zoned: BillingClockSetting;
  let db: TestDatabase;
  let knex: Knex;
  let sim: Simulator;
  let client: PlatformClient;
  let store: StateStore;

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'pcclk');
    zoned = await setBillingClock(db, 'Asia/Yekaterinburg');
    knex = db.knex;
    await createLanbillingSchema(knex, dialect);
    await loadSample(knex, dialect, new Date(), zoned.clock);
    await migrateUp(knex, { dialect, prefix: 'lifestream_', captureMode: 'triggers' });
    sim = await startSimulator({ port: 0 });
    client = createPlatformClient({ url: sim.url, concurrency: 8, timeoutMs: 5000, retries: 1 });
    store = new StateStore(knex, 'lifestream_');
    const reconciler = new Reconciler({
      billing: billingReader(knex, zoned.clock),
      store,
      platform: client,
      options: { idMode: 'accountId', ...OPTIONS },
      logger: silentLogger,
    });
    await syncAll(reconciler, { dryRun: false, concurrency: 4 });
  });
  afterAll(async () => {
    await client?.close();
    await sim?.close();
    await zoned?.close();
  });

  const scan = () =>
    scanPlatform(
      {
        knex,
        clock: zoned.clock,
        store,
        seen: new PlatformSeenStore(knex, 'lifestream_'),
        platform: client,
        logger: silentLogger,
        options: { policy: 'mirror', idMode: 'accountId', ...OPTIONS, pageSize: 50, maxChangeShare: 1 },
      },
      'periodic',
    );

  const setOn = (login: string, subscriptions: string[]) => setOnPlatform(sim, PREFIX + login, subscriptions);

  /** The services rows of one category, DATETIMEs as stored text. */
  async function rows(vgId: number, idx: number) {
    const text = (c: string) => (dialect === 'pg' ? `CAST(${c} AS text)` : `CAST(${c} AS char)`);
    const r = await knex.raw(
      `SELECT ${text('timefrom')} AS timefrom, ${text('timeto')} AS timeto, ${text('activated')} AS activated,
              comment, external_data FROM services WHERE vg_id = ? AND tar_id = ? AND serv_cat_idx = ?
       ORDER BY service_id`,
      [vgId, TARIFFS.tvServices, idx],
    );
    return (dialect === 'pg' ? r.rows : r[0]) as Record<string, string>[];
  }
  const instant = (wall: string | undefined) => zoned.clock.fromWall(wall, 'wall')!.getTime();

  it("a switch-off on the platform closes the row at the billing's wall time it was first seen", async () => {
    const vg = A.svcBasic.vgId;
    await setOn(A.svcBasic.login, ['100', '5011']);
    const firstSeen = Math.floor(Date.now() / 1000) * 1000;
    await scan();
    expect((await scan()).written).toMatchObject({ closed: 1 });
    const [row] = await rows(vg, categoryIdx(TARIFFS.tvServices, '5010'));
    expect(instant(row!.timeto)).toBeGreaterThanOrEqual(firstSeen - 1000);
    expect(instant(row!.timeto)).toBeLessThanOrEqual(Date.now());
    expect(row!.comment).toMatch(/switched off on the Smotreshka platform, seen \S+\+05:00 /);
  });

  it('a switch-on on the platform is assigned from the moment it was first seen, not yet activated', async () => {
    const vg = A.svcBasic.vgId;
    await setOn(A.svcBasic.login, ['100', '5011', '5012']);
    const firstSeen = Math.floor(Date.now() / 1000) * 1000;
    await scan();
    expect((await scan()).written).toMatchObject({ assigned: 1 });
    const [row] = await rows(vg, categoryIdx(TARIFFS.tvServices, '5012'));
    expect(instant(row!.timefrom)).toBeGreaterThanOrEqual(firstSeen - 1000);
    expect(instant(row!.timefrom)).toBeLessThanOrEqual(Date.now());
    expect(row).toMatchObject({
      timeto: '9999-12-31 23:59:59',
      activated: dialect === 'pg' ? '-infinity' : '0000-00-00 00:00:00',
      external_data: 'lifestream:platform',
    });
    // in force now by the billing's own reading: the platform keeps it, nothing flaps
    const account = await billingReader(knex, zoned.clock).loadAccount(vg, new Date());
    expect(account!.services.some((s) => s.uuid === '5012' && s.timefrom.getTime() <= Date.now())).toBe(true);
  });
});
