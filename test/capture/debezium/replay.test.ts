// Replay planning against a scripted Kafka: offsets only move back, a group that has read nothing
// keeps starting from the beginning, retention is reported, and a group with members is refused.
import { describe, expect, it } from 'vitest';
import type { GroupMembers, PartitionOffsets, StreamAdmin } from '../../../src/capture/debezium/kafka.js';
import {
  applyReplay,
  planReplay,
  ReplayRefused,
  renderReplay,
} from '../../../src/capture/debezium/replay.js';

interface FakeTopic {
  partitions: PartitionOffsets[];
  committed: Record<number, string | null>;
  /** what Kafka answers for the asked time, per partition */
  atTime: Record<number, string>;
}

function fakeAdmin(topics: Record<string, FakeTopic>, members: GroupMembers['members'] = []) {
  const set: string[] = [];
  const admin: StreamAdmin = {
    ensureTopics: async () => [],
    existingTopics: async () => new Set(Object.keys(topics)),
    group: async () => ({ state: members.length ? 'Stable' : 'Empty', members }),
    committed: async (_g, topic) =>
      new Map(Object.entries(topics[topic]!.committed).map(([p, o]) => [Number(p), o])),
    offsets: async (topic) => topics[topic]!.partitions,
    offsetsAt: async (topic) =>
      new Map(Object.entries(topics[topic]!.atTime).map(([p, o]) => [Number(p), o])),
    setOffsets: async (_g, topic, offsets) => {
      for (const [p, o] of offsets) set.push(`${topic}/${p}=${o}`);
    },
    close: async () => undefined,
  };
  return { admin, set };
}

const SINCE = Date.UTC(2026, 10, 24);

describe('replay', () => {
  const topics: Record<string, FakeTopic> = {
    'lb.public.services': {
      partitions: [
        { partition: 0, low: '0', high: '1000' },
        { partition: 1, low: '0', high: '500' },
      ],
      // p0 read up to 900, rewinds to 600; p1 has read only to 100, before the time (300): stays
      committed: { 0: '900', 1: '100' },
      atTime: { 0: '600', 1: '300' },
    },
    'lb.public.vgroups': {
      partitions: [{ partition: 0, low: '250', high: '400' }],
      // the records of that time were deleted by retention: Kafka answers the first one left
      committed: { 0: '400' },
      atTime: { 0: '250' },
    },
    'lb.public.agreements': {
      partitions: [{ partition: 0, low: '0', high: '70' }],
      committed: { 0: null }, // the group never read it: it starts from the beginning anyway
      atTime: { 0: '70' },
    },
  };

  it('plans every partition: back to the time, never forward, from the start where nothing was read', async () => {
    const { admin } = fakeAdmin(topics);
    const plan = await planReplay(admin, 'g', [...Object.keys(topics), 'lb.public.missing'], SINCE);
    expect(
      plan.map((p) => [
        `${p.topic}/${p.partition}`,
        p.current,
        p.target,
        p.again,
        p.toRead,
        p.changes,
        p.truncated,
      ]),
    ).toEqual([
      ['lb.public.services/0', '900', '600', 300, 400, true, false],
      ['lb.public.services/1', '100', '100', 0, 400, false, false],
      ['lb.public.vgroups/0', '400', '250', 150, 150, true, true],
      ['lb.public.agreements/0', null, '0', 0, 70, false, false],
    ]);
  });

  it('a time after the last record moves nothing', async () => {
    const { admin } = fakeAdmin({
      t: {
        partitions: [{ partition: 0, low: '0', high: '10' }],
        committed: { 0: '10' },
        atTime: { 0: '10' },
      },
    });
    expect(await planReplay(admin, 'g', ['t'], Date.now())).toMatchObject([
      { target: '10', again: 0, changes: false },
    ]);
  });

  it('sets only the offsets that move', async () => {
    const { admin, set } = fakeAdmin(topics);
    await applyReplay(admin, 'g', await planReplay(admin, 'g', Object.keys(topics), SINCE));
    expect(set).toEqual(['lb.public.services/0=600', 'lb.public.vgroups/0=250']);
  });

  it('refuses while the group has members, naming them, and sets nothing', async () => {
    const { admin, set } = fakeAdmin(topics, [{ clientId: 'lbcore-lifestream', host: '/10.0.0.5' }]);
    const plan = await planReplay(admin, 'g', Object.keys(topics), SINCE);
    await expect(applyReplay(admin, 'g', plan)).rejects.toThrow(ReplayRefused);
    await expect(applyReplay(admin, 'g', plan)).rejects.toThrow(
      /consumer group "g" has 1 active member\(s\) \(lbcore-lifestream@10\.0\.0\.5\): stop every `run`/,
    );
    expect(set).toEqual([]);
  });

  it('renders a table with totals and the retention warning', async () => {
    const { admin } = fakeAdmin(topics);
    const text = renderReplay(
      await planReplay(admin, 'g', Object.keys(topics), SINCE),
      'g',
      new Date(SINCE),
      true,
    );
    expect(text).toContain('consumer group "g": replay since 2026-11-24T00:00:00.000Z');
    expect(text).toMatch(/lb\.public\.services\/0 +900 +600 +300 +400/);
    expect(text).toMatch(/lb\.public\.services\/1 +100 +100 \(unchanged\)/);
    expect(text).toMatch(/lb\.public\.agreements\/0 +\(none\) +0 \(from the start\)/);
    expect(text).toContain('warning: lb.public.vgroups/0 no longer hold(s) records from that time');
    expect(text.trim().split('\n').at(-1)).toBe(
      '450 message(s) read again, 1020 to read in all (dry run: nothing changed)',
    );
  });
});
