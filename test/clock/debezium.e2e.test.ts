// Debezium mode with the billing's clock at UTC+5 (Asia/Yekaterinburg), on both databases: the
// billing's own NOW() writes reach the platform through WAL/binlog, Kafka and the consumer as in
// trigger mode (test/propagation/changes.test.ts) — a service assigned now is enabled at once,
// one expiring in a few seconds is disabled then, one starting in a few seconds enabled then.
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/billing/connect.js';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { SAMPLE } from '../fixture/sample.js';
import { serviceRow } from '../support/billing-clock.js';
import { type DebeziumPipeline, startDebeziumPipeline } from '../support/debezium.js';
import { USERNAME_PREFIX } from '../support/pipeline.js';
import { announceSkip, stackProblem, useStack } from '../support/stack.js';

const A = SAMPLE.accounts;
const T = TARIFFS;
const WAIT_MS = 45_000;
const problem = await stackProblem();
announceSkip('debezium mode with the billing clock at UTC+5', problem);

describe.skipIf(problem !== null).each(['pg', 'mysql'] as Dialect[])(
  'Debezium capture on %s, billing clock at UTC+5',
  (dialect) => {
    let d: DebeziumPipeline;
    let release: () => void;

    beforeAll(async () => {
      release = await useStack(`dbz-clock-${dialect}`);
      d = await startDebeziumPipeline(dialect, dialect === 'pg' ? 'dclkpg' : 'dclkmdb', {
        billingZone: 'Asia/Yekaterinburg',
      });
    }, 660_000);
    afterAll(async () => {
      await d?.close();
      release?.();
    }, 120_000);

    it("the billing's NOW(): assigned now, expiring in a few seconds, starting in a few seconds", async () => {
      const { p } = d;
      const u = `${USERNAME_PREFIX}${A.svcDeleting.login}`;
      const calls = (m: number) => p.callsSince(m).filter((c) => c.username === u);
      const service = (offer: '5010' | '5012' | '5013', from: Knex.Raw, to?: Knex.Raw) =>
        serviceRow(A.svcDeleting.vgId, T.tvServices, categoryIdx(T.tvServices, offer), from, to);
      let m = p.mark();
      await p.billing.writer('services').insert(service('5010', p.billing.now()));
      await p.waitFor('the service assigned now', () => calls(m).length >= 1, WAIT_MS);
      expect(calls(m).map((c) => c.text)).toEqual([`enable ${u} 5010`]);

      // far enough ahead for the change to travel through Kafka first
      m = p.mark();
      await p.billing
        .writer('services')
        .insert([service('5012', p.billing.now(-60), p.billing.now(8)), service('5013', p.billing.now(8))]);
      await p.waitFor('the one in force now', () => calls(m).length >= 1, WAIT_MS);
      const [row] = await p.db
        .knex('services')
        .where({ vg_id: A.svcDeleting.vgId, serv_cat_idx: categoryIdx(T.tvServices, '5013') })
        .select('timefrom');
      const boundaryMs = p.billing.clock.fromWall(row.timefrom, 'timefrom')!.getTime();
      await p.waitFor('the timers', () => calls(m).length >= 3, WAIT_MS);
      const all = calls(m);
      expect(all.map((c) => c.text).sort()).toEqual([
        `disable ${u} 5012`,
        `enable ${u} 5012`,
        `enable ${u} 5013`,
      ]);
      for (const c of all.filter((x) => x.text !== `enable ${u} 5012`))
        expect(c.at).toBeGreaterThanOrEqual(boundaryMs);
    });
  },
);
