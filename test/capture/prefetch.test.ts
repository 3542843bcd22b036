// Prefetched fan-out: the same accounts as translate() with the plain lookups, each distinct lookup
// made once, several at a time (not one after the other), none for changes that can't matter.
import { describe, expect, it } from 'vitest';
import { prefetchFanout } from '../../src/capture/prefetch.js';
import { type Fanout, translate } from '../../src/capture/translate.js';
import type { ChangeEvent } from '../../src/capture/types.js';

const at = new Date('2026-11-25T12:00:00Z');
const ev = (
  table: ChangeEvent['table'],
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  position: string,
): ChangeEvent => ({
  table,
  op: before && after ? 'update' : after ? 'insert' : 'delete',
  before,
  after,
  position,
  committedAt: null,
});

function slowFanout() {
  const calls: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const slow = async (key: string, result: number[]) => {
    calls.push(key);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return result;
  };
  const fanout: Fanout = {
    vgIdsOfAgreement: (id) => slow(`a${id}`, [id * 10, id * 10 + 1]),
    vgIdsOfCard: (uid) => slow(`c${uid}`, [uid * 100]),
    vgIdsHoldingCategory: (tar, idx) => slow(`s${tar}/${idx}`, [tar * 1000 + idx]),
  };
  return { fanout, calls, max: () => maxInFlight };
}

describe('prefetchFanout', () => {
  const events: ChangeEvent[] = [
    ...Array.from({ length: 40 }, (_, i) =>
      ev('agreements', { agrm_id: i % 20, balance: '1' }, { agrm_id: i % 20, balance: `${i + 2}` }, `p${i}`),
    ),
    ev(
      'agreements',
      { agrm_id: 99, balance: '1', number: 'a' },
      { agrm_id: 99, balance: '1', number: 'b' },
      'irrelevant',
    ),
    ev('accounts', { uid: 7, email: 'a@x' }, { uid: 7, email: 'b@x' }, 'card'),
    ev('service_categories', null, { tar_id: 3, serv_cat_idx: 4, uuid: '100' }, 'cat'),
    ev('services', { vg_id: 5 }, { vg_id: 6 }, 'svc'),
  ];

  it('gives translate() the same accounts, each lookup once, in parallel', async () => {
    const plain = slowFanout();
    const expected = await translate(events, plain.fanout, at);
    expect(plain.max()).toBe(1); // translate alone: one lookup after the other

    const pre = slowFanout();
    const got = await translate(events, await prefetchFanout(events, pre.fanout, at, 8), at);
    expect(got).toEqual(expected);
    expect(pre.calls.sort()).toEqual([...new Set(pre.calls)].sort()); // no key twice
    expect(pre.calls).toHaveLength(22); // 20 agreements, 1 card, 1 category; not agreement 99
    expect(pre.max()).toBe(8);
  });
});
