import { describe, expect, it } from 'vitest';
import { gather } from '../../src/reconcile/batching.js';

describe('gathering the calls of one event-loop turn', () => {
  it('answers each caller from one load per turn, with duplicates asked once', async () => {
    const loads: number[][] = [];
    const get = gather<number, string>(async (keys) => {
      loads.push(keys);
      return (k) => `v${k}`;
    });
    const first = await Promise.all([get(1), get(2), get(1), get(3)]);
    expect(first).toEqual(['v1', 'v2', 'v1', 'v3']);
    expect(await get(4)).toBe('v4');
    expect(loads).toEqual([[1, 2, 3], [4]]);
  });

  it('hands a failed load to every caller of that turn, and the next turn starts afresh', async () => {
    let fail = true;
    const get = gather<number, number>(async () => {
      if (fail) throw new Error('database gone');
      return (k) => k * 2;
    });
    const results = await Promise.allSettled([get(1), get(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await get(5)).toBe(10);
  });
});
