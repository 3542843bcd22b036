// The billing database drops every connection of the service while billing changes go on: the
// pool, the leader lock's session and (PostgreSQL) the LISTEN connection are all cut, three times
// in a row. The service reconnects, takes its leader lock again, catches up from the change log,
// and on PostgreSQL listens again (a change then arrives well before the 5 s poll would find it).
//
// Why not a real server restart: PostgreSQL and MariaDB here are shared by every test file running
// in parallel; restarting them would fail the others. Terminating the service's sessions is what a
// restart looks like from the client side (every connection ends, nothing is replayed); what it
// doesn't cover is the server refusing connections for a while, which the reader's and the
// listener's back-off handle the same way as a failed query.
import type { Knex } from 'knex';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBilling } from '../../src/billing/connect.js';
import { sqlDateTime } from '../../src/billing/sql-time.js';
import { BlockCode } from '../../src/billing/types.js';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { SAMPLE } from '../fixture/sample.js';
import { differences } from '../support/converged.js';
import { DIALECTS } from '../support/db.js';
import { type Pipeline, startPipeline, USERNAME_PREFIX } from '../support/pipeline.js';

const A = SAMPLE.accounts;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Ends every session on the test database except the killer's own; returns how many. */
async function terminateAll(p: Pipeline): Promise<number> {
  if (p.db.dialect === 'pg') {
    const c = new pg.Client({ connectionString: p.db.url });
    await c.connect();
    try {
      const r = await c.query(
        'SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      return Number(r.rows[0].n);
    } finally {
      await c.end();
    }
  }
  const admin = openBilling('mysql', p.db.url, { min: 0, max: 1 });
  try {
    const [rows] = await admin.raw(
      'SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()',
    );
    for (const r of rows as { id: number }[])
      await admin.raw(`KILL CONNECTION ${Number(r.id)}`).catch(() => undefined);
    return (rows as unknown[]).length;
  } finally {
    await admin.destroy();
  }
}

/** A billing write that survives its own pool's connections being cut under it. */
async function write(knex: Knex, change: (k: Knex) => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await change(knex);
      return;
    } catch (err) {
      if (attempt >= 10) throw err;
      await sleep(100);
    }
  }
}

describe.each(DIALECTS)('the database cuts every connection on %s', (dialect) => {
  let p: Pipeline;

  beforeAll(async () => {
    // PostgreSQL: a slow poll, so that only a working LISTEN explains fast propagation afterwards
    p = await startPipeline(dialect, 'dbcut', {
      config: { capture: { pollIntervalMs: dialect === 'pg' ? 5000 : 200 } },
    });
  });
  afterAll(async () => p?.stop());

  it('reconnects, catches up, and listens again', async () => {
    const writer = openBilling(dialect, p.db.url, { min: 0, max: 2 });
    try {
      const changes = [
        (k: Knex) => k('vgroups').where({ vg_id: A.svcBasic.vgId }).update({ blocked: BlockCode.user }),
        (k: Knex) => k('agreements').where({ agrm_id: A.svcFuture.agrmId }).update({ balance: '5.25' }),
        (k: Knex) =>
          k('services').insert({
            vg_id: A.svcExpired.vgId,
            tar_id: TARIFFS.tvServices,
            serv_cat_idx: categoryIdx(TARIFFS.tvServices, '5012'),
            timefrom: sqlDateTime(new Date(Date.now() - 60_000)),
            state: 3,
          }),
      ];
      let killed = 0;
      for (const change of changes) {
        killed += await terminateAll(p);
        await write(writer, change);
        await sleep(400);
      }
      expect(killed).toBeGreaterThan(3);

      await p.waitFor(
        'convergence',
        async () =>
          (await p.service.pending.count().catch(() => 1)) === 0 &&
          (await differences(p.app, p.sim).catch(() => ['?'])).length === 0,
        30_000,
      );
      expect(p.subscriptionsOf(A.svcBasic.login)).toEqual([]);
      expect(p.subscriptionsOf(A.svcExpired.login)).toEqual(['100', '5012']);
      await p.waitFor(
        'the active role again',
        async () => p.service.role() === 'active' && (await p.service.health()).healthy,
      );

      // after the cuts the wake-up works again: well under the 5 s poll on PostgreSQL
      const mark = p.mark();
      const t0 = Date.now();
      await write(writer, (k) =>
        k('vgroups').where({ vg_id: A.svcBasic.vgId }).update({ blocked: BlockCode.active }),
      );
      await p.waitFor('the unblock', () =>
        p.callsSince(mark).some((c) => c.text === `state ${USERNAME_PREFIX}${A.svcBasic.login} active 35000`),
      );
      if (dialect === 'pg') expect(Date.now() - t0).toBeLessThan(2_000);
    } finally {
      await writer.destroy();
    }
  });
});
