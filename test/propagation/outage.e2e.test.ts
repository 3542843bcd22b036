// The platform down for a while (answering 503, then hanging past the client's timeout): the
// service backs off behind its circuit instead of hammering, reports itself unhealthy, loses
// nothing, and converges after; and one account the platform refuses for good is parked with its
// reason while the others flow. "A minute" of outage is shortened to ~10 s here: the behaviour
// that matters (back-off, circuit, convergence) shows within the first pauses (2 s cap here).
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlDateTime } from '../../src/billing/sql-time.js';
import { BlockCode } from '../../src/billing/types.js';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { SAMPLE } from '../fixture/sample.js';
import { differences } from '../support/converged.js';
import { DIALECTS } from '../support/db.js';
import { type Pipeline, startPipeline, USERNAME_PREFIX } from '../support/pipeline.js';

const A = SAMPLE.accounts;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const at = (offsetMs: number) => sqlDateTime(new Date(Date.now() + offsetMs));

describe.each(DIALECTS)('platform outage on %s', (dialect) => {
  let p: Pipeline;
  let knex: Knex;

  beforeAll(async () => {
    p = await startPipeline(dialect, 'outage', {
      config: {
        smotreshka: { retries: 0, timeoutMs: 1000 },
        queue: { circuitFailures: 3, circuitMaxPauseMs: 2000, retryMaxDelayMs: 2000 },
      },
    });
    knex = p.db.knex;
  });
  afterAll(async () => p?.stop());

  const addService = (vgId: number, offer: '5010' | '5011' | '5012' | '5013') =>
    knex('services').insert({
      vg_id: vgId,
      tar_id: TARIFFS.tvServices,
      serv_cat_idx: categoryIdx(TARIFFS.tvServices, offer),
      timefrom: at(-60_000),
      state: 3,
    });

  it('backs off while the platform fails or hangs, keeps every change, converges after', async () => {
    const mark = p.mark();
    const outage = p.sim.faults.add({ kind: '5xx', status: 503 });
    // a sequence of changes per account while the platform is down: only the last state counts
    await knex('vgroups').where({ vg_id: A.svcBasic.vgId }).update({ blocked: BlockCode.admin });
    await sleep(300);
    await addService(A.svcBasic.vgId, '5012');
    await knex('agreements').where({ agrm_id: A.svcFuture.agrmId }).update({ balance: '77' });
    await sleep(300);
    await knex('vgroups').where({ vg_id: A.svcBasic.vgId }).update({ blocked: BlockCode.active });
    await addService(A.svcExpired.vgId, '5013');
    await knex('vgroups').where({ vg_id: A.svcStopped.vgId }).update({ blocked: BlockCode.switchedOff });
    await sleep(300);
    await knex('services')
      .where({ vg_id: A.svcExpired.vgId, serv_cat_idx: categoryIdx(TARIFFS.tvServices, '5013') })
      .update({ timeto: at(-1000) });

    await p.waitFor(
      'health to report the platform down',
      async () => (await p.service.health()).platform.reachable === false,
    );
    expect((await p.service.health()).healthy).toBe(false);
    await sleep(4_500);
    // then the platform hangs: calls time out after 1 s
    p.sim.faults.remove(outage.id);
    p.sim.faults.add({ kind: 'hang' });
    await sleep(5_000);
    const attempted = p.sim.recorder.since(mark, 100_000).calls.length + p.sim.faults.heldCount;
    // four accounts for ~10 s: the circuit lets a probe through every ~2 s, not every account every retry
    expect(attempted).toBeLessThan(40);
    expect(p.service.queue.stats().circuit).not.toBe('closed');
    expect(await p.app.store.parkedIds()).not.toContain(A.svcBasic.vgId);
    expect(await p.service.pending.count()).toBeGreaterThanOrEqual(4);

    p.sim.faults.clear();
    await p.waitFor(
      'convergence',
      async () => (await p.service.pending.count()) === 0 && (await differences(p.app, p.sim)).length === 0,
      20_000,
    );
    expect((await p.service.health()).healthy).toBe(true);
    expect(p.subscriptionsOf(A.svcBasic.login)).toEqual(['100', '5010', '5011', '5012']);
    expect(p.sim.store.byName(`${USERNAME_PREFIX}${A.svcBasic.login}`)?.state?.status).toBe('active');
    expect(p.subscriptionsOf(A.svcExpired.login)).toEqual(['100']);
  });

  it('parks an account the platform refuses for good, with its reason, and the others flow', async () => {
    const refused = `${USERNAME_PREFIX}${A.svcExpired.login}`;
    const rule = p.sim.faults.add({
      kind: 'respond',
      status: 400,
      body: { error: 'Bad Request: simulated refusal' },
      match: { username: refused },
    });
    const mark = p.mark();
    await addService(A.svcExpired.vgId, '5011');
    await knex('agreements').where({ agrm_id: A.svcBlockedUser.agrmId }).update({ balance: '321' });
    await p.waitFor('the other account to flow', () =>
      p
        .callsSince(mark)
        .some((c) => c.text === `state ${USERNAME_PREFIX}${A.svcBlockedUser.login} suspended_manually 32100`),
    );
    const parked = await p.waitFor('the refused account to be parked', async () =>
      (await p.app.store.listParked()).find((x) => x.vgId === A.svcExpired.vgId),
    );
    expect(parked.reason).toBe('bad_request');
    expect(parked.detail).toMatch(/simulated refusal/);
    // the change-log row it came from: its id (PostgreSQL) or created_at|connection|counter (MySQL)
    expect(parked.source).toMatch(/^changelog:(\d+|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\|\d+\|\d+)$/);
    // parked, not retried: its queue row is gone, and the service stays healthy
    await p.waitFor('the queue to drain', async () => (await p.service.pending.count()) === 0);
    const health = await p.service.health();
    expect(health.healthy).toBe(true);
    expect(health.parked).toBeGreaterThanOrEqual(1);

    // fixed on the platform's side; the next change of the account brings it back
    p.sim.faults.remove(rule.id);
    await knex('agreements').where({ agrm_id: A.svcExpired.agrmId }).update({ balance: '41' });
    await p.waitFor(
      'the account to be unparked',
      async () => !(await p.app.store.parkedIds()).has(A.svcExpired.vgId),
    );
    await p.waitFor('convergence', async () => (await differences(p.app, p.sim)).length === 0);
    expect(p.subscriptionsOf(A.svcExpired.login)).toEqual(['100', '5011']);
  });
});
