// The platform scan against the real billing databases and the simulator: changes made on the
// platform reach the billing (mirror), are reported or reverted by policy, never echo back, and
// neither a platform glitch nor a failing page writes anything it shouldn't.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UTC_CLOCK } from '../../src/billing/clock.js';
import { TariffCategoryCache } from '../../src/billing/offers.js';
import { billingReader } from '../../src/billing/read.js';
import { silentLogger } from '../../src/log.js';
import type { PlatformChangesPolicy } from '../../src/reconcile/platform-changes.js';
import { type ScanMode, scanPlatform } from '../../src/reconcile/platform-scan.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { syncAccounts, syncAll } from '../../src/reconcile/sync.js';
import type { PlatformApi } from '../../src/smotreshka/api.js';
import { createPlatformClient, type PlatformClient } from '../../src/smotreshka/client.js';
import { type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { migrateUp } from '../../src/state/migrate.js';
import { PlatformSeenStore } from '../../src/state/platform-seen.js';
import { StateStore } from '../../src/state/store.js';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';
import { setOnPlatform as setPlatformSubscriptions } from '../support/platform-calls.js';

const A = SAMPLE.accounts;
const PREFIX = 'op_';
const PAGE_SIZE = 4;

describe.each(DIALECTS)('platform scan on %s', (dialect) => {
  let db: TestDatabase;
  let sim: Simulator;
  let client: PlatformClient;
  let store: StateStore;
  let seen: PlatformSeenStore;
  const logLines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logLines.push(line) });

  const reconciler = (policy: PlatformChangesPolicy = 'mirror') =>
    new Reconciler({
      billing: billingReader(db.knex, UTC_CLOCK),
      store,
      platform: client,
      options: {
        idMode: 'accountId',
        usernamePrefix: PREFIX,
        emailTemplate: '{username}@op.users-mail.lfstrm.tv',
        platformChanges: policy,
      },
      logger: silentLogger,
    });

  const scan = (
    opts: { policy?: PlatformChangesPolicy; mode?: ScanMode; platform?: PlatformApi; share?: number } = {},
  ) =>
    scanPlatform(
      {
        knex: db.knex,
        clock: UTC_CLOCK,
        store,
        seen,
        platform: opts.platform ?? client,
        logger,
        options: {
          policy: opts.policy ?? 'mirror',
          idMode: 'accountId',
          usernamePrefix: PREFIX,
          emailTemplate: '{username}@op.users-mail.lfstrm.tv',
          pageSize: PAGE_SIZE,
          maxChangeShare: opts.share ?? 0.05,
        },
      },
      opts.mode ?? 'periodic',
    );

  /** As a subscriber or a manager would: the simulator's control API. */
  const setOnPlatform = (login: string, subscriptions: string[]) =>
    setPlatformSubscriptions(sim, PREFIX + login, subscriptions);
  const onPlatform = (login: string) => [...(sim.store.byName(PREFIX + login)?.subscriptions ?? [])].sort();
  const subscriptionCalls = (since: number) =>
    sim.recorder
      .since(since, 1_000_000)
      .calls.filter((c) => c.method === 'POST' && c.path.endsWith('/subscriptions'))
      .map((c) => JSON.stringify(c.body));
  const serviceRows = (vgId: number, tarId: number, idx: number) =>
    db.knex('services').where({ vg_id: vgId, tar_id: tarId, serv_cat_idx: idx }).orderBy('service_id');
  const openRows = async (vgId: number, tarId: number, idx: number) =>
    (await serviceRows(vgId, tarId, idx)).filter(
      (r) =>
        r.timeto === null || new Date(r.timeto).getUTCFullYear() >= 9000 || new Date(r.timeto) > new Date(),
    );
  const servicesSnapshot = async () =>
    JSON.stringify(await db.knex('services').select('service_id', 'timeto', 'comment').orderBy('service_id'));

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'pscan');
    await createLanbillingSchema(db.knex, dialect);
    await loadSample(db.knex, dialect, new Date());
    await migrateUp(db.knex, { dialect, prefix: 'lifestream_', captureMode: 'triggers' });
    sim = await startSimulator({ port: 0 });
    client = createPlatformClient({
      url: sim.url,
      concurrency: 8,
      timeoutMs: 5000,
      retries: 1,
      minRetryDelayMs: 5,
      maxRetryDelayMs: 20,
    });
    store = new StateStore(db.knex, 'lifestream_');
    seen = new PlatformSeenStore(db.knex, 'lifestream_');
    // the platform as the billing wants it, and the service's record of what it applied
    await syncAll(reconciler(), { dryRun: false, concurrency: 4 });
  });
  afterAll(async () => {
    await client?.close();
    await sim?.close();
    await db?.drop();
  });

  it('after sync, a scan finds nothing changed on the platform and writes nothing', async () => {
    const before = await servicesSnapshot();
    const calls = sim.recorder.since(0, 1).lastSeq;
    const r = await scan();
    expect(r.complete).toBe(true);
    expect(r.pages).toBeGreaterThan(2);
    expect(r.found).toEqual([]);
    expect(r.accounts).toBe(sim.store.listed().length);
    expect(await servicesSnapshot()).toBe(before);
    expect(subscriptionCalls(calls)).toEqual([]);
  });

  it('a subscription switched off on the platform: the billing service is closed on the second scan, and no call re-enables it', async () => {
    const vg = A.svcBasic.vgId;
    const idx = categoryIdx(TARIFFS.tvServices, '5010');
    const calls = sim.recorder.since(0, 1).lastSeq;
    await setOnPlatform(A.svcBasic.login, ['100', '5011']);

    const t1 = new Date();
    const first = await scan();
    const change = first.found.find((f) => f.vgId === vg)?.changes;
    expect(change).toEqual([expect.objectContaining({ key: 'off:5010', action: 'close', due: false })]);
    expect(await openRows(vg, TARIFFS.tvServices, idx)).toHaveLength(1);

    // propagation between the scans (a balance change, say) leaves the switch-off alone
    const between = await reconciler().reconcile(vg);
    expect(between.made.filter((c) => c.op !== 'state')).toEqual([]);

    const second = await scan();
    expect(second.written).toMatchObject({ accounts: 1, closed: 1, assigned: 0 });
    const [row] = await serviceRows(vg, TARIFFS.tvServices, idx);
    // stopped when it was first seen gone, with the reason
    expect(new Date(row.timeto).getTime()).toBeGreaterThanOrEqual(
      Math.floor(t1.getTime() / 1000) * 1000 - 1000,
    );
    expect(new Date(row.timeto).getTime()).toBeLessThanOrEqual(Date.now());
    expect(row.comment).toContain('switched off on the Smotreshka platform');
    expect((await store.get(vg))?.subscriptions).toEqual(['100', '5011']);

    // no echo: the account's reconcile, a sync and the next scan change nothing on the platform
    expect((await reconciler().reconcile(vg)).made).toEqual([]);
    await syncAccounts(reconciler(), [vg], { dryRun: false, concurrency: 1 });
    expect((await scan()).found.filter((f) => f.vgId === vg)).toEqual([]);
    expect(subscriptionCalls(calls)).toEqual([]);
    expect(onPlatform(A.svcBasic.login)).toEqual(['100', '5011']);
  });

  it("an offered additional switched on on the platform: a billing row as the subscriber's own action, and no echo", async () => {
    const vg = A.svcBasic.vgId;
    const idx = categoryIdx(TARIFFS.tvServices, '5012');
    const calls = sim.recorder.since(0, 1).lastSeq;
    await setOnPlatform(A.svcBasic.login, ['100', '5011', '5012']);

    // sync's dry run shows it apart, as the other direction
    const dry = await syncAccounts(reconciler(), [vg], {
      dryRun: true,
      concurrency: 1,
      categories: new TariffCategoryCache(db.knex),
    });
    expect(dry.remaining).toEqual([
      expect.objectContaining({
        kind: 'switched_on_platform',
        direction: 'platform_side',
        detail: expect.stringContaining('assigns it in the billing'),
      }),
    ]);

    expect((await scan()).written.assigned).toBe(0);
    expect(await serviceRows(vg, TARIFFS.tvServices, idx)).toEqual([]);
    const second = await scan();
    expect(second.written).toMatchObject({ accounts: 1, assigned: 1, closed: 0 });
    const rows = await serviceRows(vg, TARIFFS.tvServices, idx);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      person_id: null,
      external_data: 'lifestream:platform',
      need_calc: 1,
      state: 1,
    });
    expect(rows[0].comment).toContain('switched on by the subscriber');
    expect((await store.get(vg))?.subscriptions).toEqual(['100', '5011', '5012']);

    // the billing now has it: the account's reconcile and a sync make no call at all
    expect((await reconciler().reconcile(vg)).made).toEqual([]);
    const after = await syncAccounts(reconciler(), [vg], {
      dryRun: true,
      concurrency: 1,
      categories: new TariffCategoryCache(db.knex),
    });
    expect(after.remaining).toEqual([]);
    expect(subscriptionCalls(calls)).toEqual([]);
    expect(onPlatform(A.svcBasic.login)).toEqual(['100', '5011', '5012']);
  });

  it('a subscription the tariffs do not offer: reported and left under mirror, switched off under revert', async () => {
    const vg = A.inetTvA.vgId;
    const idx = categoryIdx(TARIFFS.internetTvA, '5013');
    // 5013 stays on tariff A's list, but the subscriber may not add it himself
    await db
      .knex('service_categories')
      .where({ tar_id: TARIFFS.internetTvA, serv_cat_idx: idx })
      .update({ available: 0 });
    await setOnPlatform(A.inetTvA.login, ['101', '5010', '5013']);
    logLines.length = 0;

    for (let i = 0; i < 2; i++) {
      const r = await scan();
      expect(r.found.find((f) => f.vgId === vg)?.changes).toEqual([
        expect.objectContaining({ key: 'on:5013', reason: 'not_offered', action: 'report', due: i === 1 }),
      ]);
      expect(r.written.accounts).toBe(0);
    }
    expect(logLines.filter((l) => l.includes('platform-side change reported'))).toHaveLength(1);
    expect(await serviceRows(vg, TARIFFS.internetTvA, idx)).toEqual([]);
    // propagation under mirror leaves it to the scan's report
    expect((await reconciler().reconcile(vg)).made).toEqual([]);
    expect(onPlatform(A.inetTvA.login)).toEqual(['101', '5010', '5013']);

    // under revert it is undone on the platform (it was already seen twice)
    const reverted = await scan({ policy: 'revert' });
    expect(reverted.written).toMatchObject({ accounts: 1, disabled: 1 });
    expect(onPlatform(A.inetTvA.login)).toEqual(['101', '5010']);
    expect(await serviceRows(vg, TARIFFS.internetTvA, idx)).toEqual([]);
  });

  it('a glitch, every account empty on the platform: nothing written, a clear warning, the list kept; sync puts it back', async () => {
    const before = await servicesSnapshot();
    const calls = sim.recorder.since(0, 1).lastSeq;
    for (const acc of sim.store.all()) acc.subscriptions = new Set();
    logLines.length = 0;

    for (let i = 0; i < 2; i++) {
      const r = await scan();
      expect(r.suspicious).toBe(true);
      expect(r.changing).toBeGreaterThan(r.allowed);
      expect(r.written.accounts).toBe(0);
    }
    expect(await servicesSnapshot()).toBe(before);
    expect(subscriptionCalls(calls)).toEqual([]);
    const warnings = logLines
      .map((l) => JSON.parse(l))
      .filter((l) => l.level === 40 && String(l.msg).startsWith('suspicious platform scan'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0].msg).toContain('nothing was written');
    expect(warnings[0].msg).toContain('sync --from-platform --dry-run');
    const [last] = await seen.lastScans(1);
    expect(last).toMatchObject({ suspicious: true, complete: true });
    expect((last!.detail as { found: unknown[] }).found.length).toBeGreaterThan(1);

    // the operator's look lists every close, due at the next scan
    const dry = await scan({ mode: 'dry-run' });
    expect(
      dry.found
        .flatMap((f) => f.changes)
        .every((c) => c.seen === 'switched_off' && c.action === 'close' && c.due),
    ).toBe(true);
    expect(await servicesSnapshot()).toBe(before);

    // sync (billing → platform) restores what the platform lost; the scans then see nothing
    await syncAll(reconciler(), { dryRun: false, concurrency: 4 });
    expect(onPlatform(A.svcBasic.login)).toEqual(['100', '5011', '5012']);
    const after = await scan();
    expect(after.suspicious).toBe(false);
    expect(after.found).toEqual([]);
  });

  it('a scan interrupted by platform errors writes nothing for the pages it did not see', async () => {
    const first = await client.listAccounts(0, PAGE_SIZE);
    const later = await client.listAccounts(2, PAGE_SIZE);
    // one account with an applied subscription on the first page, one on a page after the failing one
    const pick = async (accounts: typeof first.accounts) => {
      const records = await store.byPlatformIds(accounts.map((a) => a.id));
      for (const a of accounts) {
        const rec = records.get(a.id);
        if (rec?.subscriptions?.length) return { login: a.username.slice(PREFIX.length), rec };
      }
      throw new Error(
        `no account with subscriptions on the page: ${JSON.stringify(accounts.map((a) => [a.username, records.get(a.id)?.subscriptions]))}`,
      );
    };
    const seenFirst = await pick(first.accounts);
    const unseen = await pick(later.accounts);
    const servicesOf = (vgId: number) =>
      db
        .knex('services')
        .where({ vg_id: vgId })
        .select('service_id', 'timeto', 'comment')
        .orderBy('service_id');
    const unseenBefore = JSON.stringify(await servicesOf(unseen.rec.vgId));
    const firstBefore = JSON.stringify(await servicesOf(seenFirst.rec.vgId));
    await setOnPlatform(seenFirst.login, seenFirst.rec.subscriptions!.slice(1));
    await setOnPlatform(unseen.login, unseen.rec.subscriptions!.slice(1));

    // page 1 fails every time, through the client's retries
    const failing: PlatformApi = Object.create(client);
    failing.listAccounts = (page, size) => {
      sim.faults.clear();
      if (page === 1)
        sim.faults.add({ kind: '5xx', status: 503, match: { method: 'GET', pathPrefix: '/v2/accounts' } });
      return client.listAccounts(page, size);
    };
    try {
      for (let i = 0; i < 2; i++) {
        const r = await scan({ platform: failing });
        expect(r.complete).toBe(false);
        expect(r.stopped?.page).toBe(1);
        expect(r.accounts).toBe(PAGE_SIZE);
        expect(r.found.map((f) => f.vgId)).toEqual([seenFirst.rec.vgId]);
      }
    } finally {
      sim.faults.clear();
    }
    // the seen account's change went through on the second look; the unseen one is untouched
    expect(JSON.stringify(await servicesOf(seenFirst.rec.vgId))).not.toBe(firstBefore);
    expect(JSON.stringify(await servicesOf(unseen.rec.vgId))).toBe(unseenBefore);
    expect(
      (await seen.previous([later.accounts.find((a) => a.username === PREFIX + unseen.login)!.id])).size,
    ).toBe(0);

    // a whole scan then sees it once: pending, not yet written
    const whole = await scan();
    expect(whole.complete).toBe(true);
    expect(whole.found.find((f) => f.vgId === unseen.rec.vgId)?.changes.every((c) => !c.due)).toBe(true);
    expect(JSON.stringify(await servicesOf(unseen.rec.vgId))).toBe(unseenBefore);
  });

  it('sync --from-platform --apply acts on one sighting and ignores the share brake', async () => {
    // several accounts at once: more than the share allows
    const logins = [A.svcExpired.login, A.svcNoEmail.login, A.svcStopped.login];
    for (const login of logins) await setOnPlatform(login, []);
    const periodic = await scan({ share: 0.01 });
    expect(periodic.suspicious).toBe(true);
    const applied = await scan({ mode: 'apply', share: 0.01 });
    expect(applied.suspicious).toBe(false);
    expect(applied.written.closed).toBeGreaterThanOrEqual(logins.length);
    const dry = await scan({ mode: 'dry-run' });
    expect(dry.found.filter((f) => logins.some((l) => f.username === PREFIX + l))).toEqual([]);
  });
});
