// Reading the platform's answers: lenient where production platforms differ, strict where a wrong
// value would slip through.
import { describe, expect, it } from 'vitest';
import * as decode from '../../src/smotreshka/decode.js';
import { PlatformError } from '../../src/smotreshka/errors.js';

describe('account', () => {
  it('keeps a well-formed account as it is', () => {
    const json = { id: 'a', username: 'u', subscriptions: [{ id: '100' }], extra: 1 };
    expect(decode.account(json)).toBe(json);
  });

  it('reads numeric subscription ids as strings, and a missing list as empty but unknown', () => {
    const listed = decode.account({ id: 'a', username: 'u', subscriptions: [{ id: 100 }] });
    expect(listed.subscriptions).toEqual([{ id: '100' }]);
    expect(listed.subscriptionsUnknown).toBeUndefined();
    const missing = decode.account({ id: 'a', username: 'u' });
    expect(missing.subscriptions).toEqual([]);
    expect(missing.subscriptionsUnknown).toBe(true);
    expect(decode.account({ id: 'a', username: 'u', subscriptions: [] }).subscriptionsUnknown).toBeUndefined();
  });

  it.each([
    { username: 'u' },
    { id: 1, username: 'u' },
    { id: 'a', username: 'u', subscriptions: '100' },
    { id: 'a', username: 'u', subscriptions: [{ name: 'x' }] },
    { id: 'a', username: 'u', subscriptions: [{ id: '' }] },
  ])('refuses %j', (json) => {
    expect(() => decode.account(json)).toThrow(decode.Unreadable);
  });
});

describe('subscriptionSwitch', () => {
  it('{} is an unknown subscription; {id, valid} is success; anything else is unreadable', () => {
    let err: unknown;
    try {
      decode.subscriptionSwitch({}, 'POST x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as PlatformError).kind).toBe('unknown_subscription');
    expect(decode.subscriptionSwitch({ id: '100', valid: true }, 'POST x')).toBeUndefined();
    expect(() => decode.subscriptionSwitch({ status: 'ok' }, 'POST x')).toThrow(decode.Unreadable);
    expect(() => decode.subscriptionSwitch([], 'POST x')).toThrow(decode.Unreadable);
  });
});

describe('accountsPage', () => {
  it('needs integer pagination fields', () => {
    const pagination = { page: 0, page_size: 10, pages: 1, total: 1 };
    expect(decode.accountsPage({ accounts: [], pagination }).pagination).toEqual(pagination);
    expect(() => decode.accountsPage({ accounts: [], pagination: { ...pagination, total: '1' } })).toThrow(
      decode.Unreadable,
    );
    expect(() => decode.accountsPage({ accounts: [] })).toThrow(decode.Unreadable);
  });
});
