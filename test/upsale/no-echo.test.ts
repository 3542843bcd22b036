// No echo: what upsale commit and re-attach write into the billing flows back through the
// reconciler, and the platform — which already shows the sale it made, or never saw the tariff
// switch — receives no changing call. The platform is the simulator; its own record of the calls
// it received (GET /_simulator/calls) is the evidence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UTC_CLOCK } from '../../src/billing/clock.js';
import { billingReader } from '../../src/billing/read.js';
import { reattachServices } from '../../src/billing/reattach.js';
import { sqlDateTime } from '../../src/billing/sql-time.js';
import { silentLogger } from '../../src/log.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { createPlatformClient, type PlatformClient } from '../../src/smotreshka/client.js';
import { type CallRecord, type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { StateStore } from '../../src/state/store.js';
import { DIALECTS } from '../support/db.js';
import { A, call, DESIRED, loginOf, txId, type UpsaleFixture, upsaleFixture } from './support.js';

const CHANGING = new Set(['POST', 'PUT', 'DELETE']);

describe.each(DIALECTS)('no echo after upsale and re-attach on %s', (dialect) => {
  let f: UpsaleFixture;
  let sim: Simulator;
  let client: PlatformClient;
  let reconciler: Reconciler;

  beforeAll(async () => {
    f = await upsaleFixture(dialect, 'upsecho');
    sim = await startSimulator({ port: 0 });
    client = createPlatformClient({
      url: sim.url,
      concurrency: 4,
      timeoutMs: 5000,
      retries: 1,
      minRetryDelayMs: 5,
      maxRetryDelayMs: 20,
    });
    reconciler = new Reconciler({
      billing: billingReader(f.knex, UTC_CLOCK),
      store: new StateStore(f.knex, 'lifestream_'),
      platform: client,
      options: { idMode: 'accountId', ...DESIRED },
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await client?.close();
    await sim?.close();
    await f?.close();
  });

  async function callsSince(seq: number): Promise<{ calls: CallRecord[]; lastSeq: number }> {
    const res = await fetch(`${sim.url}/_simulator/calls?since=${seq}&limit=100000`);
    return (await res.json()) as { calls: CallRecord[]; lastSeq: number };
  }
  const changing = (calls: CallRecord[]) =>
    calls.filter((c) => CHANGING.has(c.method)).map((c) => `${c.method} ${c.path} ${JSON.stringify(c.body)}`);
  const platformSubs = (vgId: number) => [...(sim.store.byName(loginOf(vgId))?.subscriptions ?? [])].sort();

  /** What the platform does after a successful commit: it switches the subscriptions itself. */
  async function platformShows(vgId: number, subscriptions: string[]) {
    const res = await fetch(
      `${sim.url}/_simulator/accounts/${encodeURIComponent(loginOf(vgId))}/subscriptions`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(subscriptions),
      },
    );
    expect(res.status).toBe(200);
  }

  /** Reconciles the account as propagation would after the rows changed; answers the changing calls. */
  async function propagate(vgId: number): Promise<string[]> {
    const { lastSeq } = await callsSince(0);
    await reconciler.reconcile(vgId);
    return changing((await callsSince(lastSeq)).calls);
  }

  /** The platform id the service mapped the account to: what the platform sends as accountId. */
  async function platformId(vgId: number): Promise<string> {
    const row = await f.knex('lifestream_accounts').where({ vg_id: vgId }).first('platform_id');
    return String(row.platform_id);
  }

  it('commit of an additional: no changing call', async () => {
    const vgId = A.svcFuture.vgId;
    expect(await propagate(vgId)).not.toEqual([]); // first contact: the account is created
    expect(platformSubs(vgId)).toEqual(['100']);

    const sale = await call(f.app, 'add/commit', {
      accountId: await platformId(vgId),
      accountLogin: loginOf(vgId),
      newOfferId: '5010',
      qsTransactionId: txId(),
    });
    expect(sale.body.result).toBe('operation_commited');
    await platformShows(vgId, ['100', '5010']);

    expect(await propagate(vgId)).toEqual([]);
    expect(platformSubs(vgId)).toEqual(['100', '5010']);
  });

  it('replace of the basic: no changing call', async () => {
    const vgId = A.inetTvA.vgId;
    await propagate(vgId);
    expect(platformSubs(vgId)).toEqual(['101', '5010']);
    const q = {
      accountId: await platformId(vgId),
      oldOfferId: '101',
      newOfferId: '100',
      qsTransactionId: txId(),
    };
    expect((await call(f.app, 'replace/ensure', q)).body.result).toBe('operation_ensured');
    expect((await call(f.app, 'replace/commit', q)).body.result).toBe('operation_commited');
    await platformShows(vgId, ['100', '5010']);

    expect(await propagate(vgId)).toEqual([]);
    expect(platformSubs(vgId)).toEqual(['100', '5010']);
  });

  it('tariff switch and re-attach: no changing call at either step', async () => {
    const vgId = A.inetTvA.vgId; // on tariff A with 100 (sold above) and 5010
    await f.knex('vgroups').where({ vg_id: vgId }).update({ tar_id: 21 });
    expect(await propagate(vgId)).toEqual([]); // the switch seen before re-attach ran
    const moved = await reattachServices(f.knex, vgId, new Date(), UTC_CLOCK);
    expect(moved!.moved.map((m) => m.uuid).sort()).toEqual(['100', '5010']);
    expect(await propagate(vgId)).toEqual([]); // the re-attached rows flowing back
    expect(platformSubs(vgId)).toEqual(['100', '5010']);
  });

  it('and a real billing change after the sale does reach the platform (the test could fail)', async () => {
    const vgId = A.svcFuture.vgId;
    // a manager stops the sold 5010 in the billing
    const now = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000);
    await f
      .knex('services')
      .where({ vg_id: vgId, tar_id: 10, serv_cat_idx: 4 })
      .update({ timeto: sqlDateTime(now) });
    expect(await propagate(vgId)).toEqual([
      expect.stringMatching(/^POST .*\/subscriptions \{"id":"5010","valid":false\}$/),
    ]);
    expect(platformSubs(vgId)).toEqual(['100']);
  });
});
