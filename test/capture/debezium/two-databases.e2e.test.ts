// Two billing databases on one PostgreSQL server, both in Debezium mode at once: each gets its own
// replication slot by default (the name includes the database: slots are unique per server), both
// connectors stream side by side, and a change in each reaches its own platform only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCode } from '../../../src/billing/types.js';
import { slotName } from '../../../src/capture/debezium/connector.js';
import { SAMPLE } from '../../fixture/sample.js';
import { type DebeziumPipeline, startDebeziumPipeline } from '../../support/debezium.js';
import { USERNAME_PREFIX } from '../../support/pipeline.js';
import { announceSkip, CONNECT_URL, stackProblem, useStack } from '../../support/stack.js';

const problem = await stackProblem();
announceSkip('two billing databases', problem);

const A = SAMPLE.accounts;

describe.skipIf(problem !== null)('two billing databases on one PostgreSQL server in Debezium mode', () => {
  let one: DebeziumPipeline;
  let two: DebeziumPipeline;
  let release: () => void;

  beforeAll(async () => {
    release = await useStack('two-dbs');
    [one, two] = await Promise.all([
      startDebeziumPipeline('pg', 'twoa'),
      startDebeziumPipeline('pg', 'twob'),
    ]);
  }, 660_000);
  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
    release?.();
  }, 120_000);

  it('each connector has its own slot, named after its database', async () => {
    const slots: string[] = [];
    for (const d of [one, two]) {
      const stored = (await (
        await fetch(`${CONNECT_URL}/connectors/${d.connector}/config`)
      ).json()) as Record<string, string>;
      expect(stored['slot.name']).toBe(slotName('lifestream_', d.prefix, d.p.db.name));
      expect(stored['slot.name']).toContain(d.p.db.name);
      const active = await d.p.app.knex.raw('SELECT active FROM pg_replication_slots WHERE slot_name = ?', [
        stored['slot.name']!,
      ]);
      expect(active.rows[0]?.active).toBe(true);
      slots.push(stored['slot.name']!);
    }
    expect(new Set(slots).size).toBe(2);
  });

  it('a change in each database reaches its own platform, and only that one', async () => {
    const login = A.svcBasic.login;
    await one.p.db
      .knex('vgroups')
      .where({ vg_id: A.svcBasic.vgId })
      .update({ blocked: BlockCode.admin, blk_req: BlockCode.admin });
    await two.p.db
      .knex('vgroups')
      .where({ vg_id: A.svcBasic.vgId })
      .update({ blocked: BlockCode.user, blk_req: BlockCode.user });
    const status = (d: DebeziumPipeline) => d.p.sim.store.byName(`${USERNAME_PREFIX}${login}`)?.state?.status;
    await one.p.waitFor('database one on platform one', () => status(one) === 'suspended_manually', 60_000);
    await two.p.waitFor('database two on platform two', () => status(two) === 'suspended_manually', 60_000);
    await one.settled();
    await two.settled();
    // blocked by an administrator vs. by the subscriber: each platform saw its own database's change
    const reasons = (d: DebeziumPipeline) =>
      d.p
        .callsSince(0)
        .filter((c) => c.username === `${USERNAME_PREFIX}${login}` && c.text.startsWith('state'))
        .map((c) => c.text);
    expect(reasons(one).length).toBeGreaterThan(0);
    expect(reasons(two).length).toBeGreaterThan(0);
  });
});
