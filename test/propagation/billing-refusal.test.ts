// A billing write the database refuses for good parks the account with the database's message,
// instead of being retried for ever; the rest of the queue goes on. The refused write here is a
// layout-2 re-attach: the continuation of a services row copies its manager (person_id), and that
// manager no longer exists (the row was written with foreign-key checks off, as the vendor's own
// scripts and dumps run), so the insert breaks services_ibfk_3. Nothing of the re-attach is
// written: it is one transaction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { withoutForeignKeyChecks } from '../fixture/dialect.js';
import { SAMPLE } from '../fixture/sample.js';
import { DIALECTS } from '../support/db.js';
import { type Pipeline, startPipeline, USERNAME_PREFIX } from '../support/pipeline.js';

const A = SAMPLE.accounts;
const T = TARIFFS;
const GONE_MANAGER = 4242;

describe.each(DIALECTS)('a billing write refused for good, on %s', (dialect) => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await startPipeline(dialect, 'refusal');
  });
  afterAll(async () => p?.stop());

  it('parks the account with the reason, writes nothing, does not retry, and other accounts flow', async () => {
    const knex = p.billing.writer;
    const vgId = A.inetTvA.vgId;
    await knex.transaction((trx) =>
      withoutForeignKeyChecks(trx, dialect, async () => {
        await trx('services').insert({
          vg_id: vgId,
          tar_id: T.internetTvA,
          serv_cat_idx: categoryIdx(T.internetTvA, '5012'),
          timefrom: p.billing.clock.toWall(new Date(Date.now() - 86_400_000)),
          person_id: GONE_MANAGER,
          state: 3,
        });
      }),
    );
    const before = await p.db.knex('services').where({ vg_id: vgId }).orderBy('service_id');

    await knex('vgroups').where({ vg_id: vgId }).update({ tar_id: T.internetTvB });
    const parked = await p.waitFor('the account to be parked', async () =>
      (await p.app.store.listParked(50)).find((x) => x.vgId === vgId),
    );
    expect(parked).toMatchObject({ reason: 'billing_refused', attempts: 1 });
    expect(parked.detail).toMatch(/foreign key/i);
    expect(parked.detail).toMatch(dialect === 'pg' ? /PostgreSQL 23503/ : /MySQL 1452/);

    // not retried: the account leaves the queue, and its park record stops counting. (The insert
    // above and the tariff move are two changes: when the second is captured while the first run
    // is in flight, the account runs once more, legitimately, and is parked a second time. So the
    // count is read once the queue is empty, and then must hold.)
    await p.waitFor('the queue to be empty', async () => (await p.service.pending.count()) === 0);
    const settled = (await p.app.store.listParked(50)).find((x) => x.vgId === vgId)?.attempts;
    expect(settled).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await p.app.store.listParked(50)).find((x) => x.vgId === vgId)?.attempts).toBe(settled);
    expect(await p.service.pending.count()).toBe(0);
    // nothing half-written: not one services row closed or added
    expect(await p.db.knex('services').where({ vg_id: vgId }).orderBy('service_id')).toEqual(before);

    // the rest flows
    const m = p.mark();
    await knex('services').insert({
      vg_id: A.svcBasic.vgId,
      tar_id: T.tvServices,
      serv_cat_idx: categoryIdx(T.tvServices, '5012'),
      timefrom: p.billing.now(-60),
      state: 1,
    });
    await p.waitFor('the other account to reach the platform', () =>
      p.callsSince(m).some((c) => c.text === `enable ${USERNAME_PREFIX}${A.svcBasic.login} 5012`),
    );
  });
});
