// upsale.allow matching: plain addresses and CIDRs of both families, IPv4-mapped IPv6 callers,
// and refusal of anything that isn't an address.
import { describe, expect, it } from 'vitest';
import { allowList } from '../../src/upsale/allow.js';

describe('upsale.allow', () => {
  const allowed = allowList(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::ffff:198.51.100.0/120']);

  it.each([
    ['10.1.2.3', true],
    ['11.0.0.1', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['2001:db8::1', true],
    ['2001:db9::1', false],
    // what a dual-stack socket reports for an IPv4 caller
    ['::ffff:10.9.9.9', true],
    ['::ffff:192.0.2.8', false],
    // an IPv4 caller inside a range written in its IPv4-mapped IPv6 form
    ['198.51.100.20', true],
    ['198.51.101.20', false],
    ['fe80::1%eth0', false],
    ['', false],
    [undefined, false],
    ['not-an-ip', false],
    ['10.1.2.3; DROP TABLE vgroups', false],
  ])('%s → %s', (ip, expected) => {
    expect(allowed(ip)).toBe(expected);
  });

  it('the default list allows only the local host', () => {
    const local = allowList(['127.0.0.1/32', '::1/128']);
    expect(['127.0.0.1', '::1', '::ffff:127.0.0.1'].map(local)).toEqual([true, true, true]);
    expect(['127.0.0.2', '10.0.0.1', '::2'].map(local)).toEqual([false, false, false]);
  });

  it('an empty list allows nobody', () => {
    expect(allowList([])('127.0.0.1')).toBe(false);
  });

  it('a bad entry is refused at start, naming it', () => {
    expect(() => allowList(['10.0.0.0/8', '10.0.0.0/33'])).toThrow(/"10.0.0.0\/33"/);
    expect(() => allowList(['1.2.3.4.5'])).toThrow(/upsale.allow/);
  });
});
