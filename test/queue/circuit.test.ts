import { describe, expect, it } from 'vitest';
import { Circuit } from '../../src/reconcile/circuit.js';

function circuit() {
  let now = 1_000_000;
  const c = new Circuit(
    { failures: 3, minPauseMs: 1000, maxPauseMs: 8000 },
    () => now,
    () => 1,
  );
  return { c, advance: (ms: number) => (now += ms), at: () => now };
}

describe('the queue circuit', () => {
  it('stays closed below the threshold and for failures separated by a success', () => {
    const { c } = circuit();
    c.failure();
    c.failure();
    c.success();
    c.failure();
    c.failure();
    expect(c.state()).toBe('closed');
    expect(c.allowance(3, 16)).toBe(13);
  });

  it('opens after N failures in a row, lets one probe through after the pause, closes on its success', () => {
    const { c, advance, at } = circuit();
    for (let i = 0; i < 3; i++) c.failure();
    expect(c.state()).toBe('open');
    expect(c.allowance(0, 16)).toBe(0);
    expect(c.resumesAt).toBe(at() + 1000);
    advance(1000);
    expect(c.state()).toBe('half-open');
    expect(c.allowance(0, 16)).toBe(1);
    expect(c.allowance(1, 16)).toBe(0);
    c.success();
    expect(c.state()).toBe('closed');
  });

  it('a failed probe reopens with a longer pause, capped; Retry-After is a floor', () => {
    const { c, advance, at } = circuit();
    for (let i = 0; i < 3; i++) c.failure();
    const pauses: number[] = [];
    for (let i = 0; i < 5; i++) {
      advance(c.resumesAt - at());
      c.failure();
      pauses.push(c.resumesAt - at());
    }
    expect(pauses).toEqual([2000, 4000, 8000, 8000, 8000]);
    advance(c.resumesAt - at());
    c.failure(7_500);
    expect(c.resumesAt - at()).toBe(8000);
    // failures of reconciles still in flight while open don't extend the pause
    c.failure();
    expect(c.resumesAt - at()).toBe(8000);
  });
});
