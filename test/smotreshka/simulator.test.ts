// The simulator's platform semantics, per spec/smotreshka-api.md, over raw HTTP.
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ARCHIVED_SUBSCRIPTION_TEXT,
  DEFAULT_CATALOGUE,
  FOREIGN_USERNAME_TEXT,
  type Simulator,
  startSimulator,
} from '../../src/smotreshka/simulator/index.js';
import { call, enc, PLATFORM_TIME } from './http.js';

let sim: Simulator;
const api = (method: string, path: string, body?: unknown) => call(sim.url, method, path, body);
const create = (username: string, extra: Record<string, unknown> = {}) =>
  api('POST', '/v2/accounts', {
    username,
    email: `${username.replace(/[^a-z0-9]/gi, '')}@example.org`,
    ...extra,
  });
const state = (over: Record<string, unknown> = {}) => ({
  balance: 10_000,
  status: 'active',
  tvSuspended: false,
  stateTimestamp: Date.now(),
  ...over,
});

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

describe('accounts', () => {
  it('creates an account with a 24-hex id and platform timestamps, and is idempotent for its own usernames', async () => {
    const first = await create('op_alice', { purchases: ['100', '5010'] });
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ id: expect.stringMatching(/^[0-9a-f]{24}$/), created: true });
    const again = await create('op_alice', { purchases: ['101'] });
    expect(again.json).toEqual({ id: first.json.id, created: false });
    const got = await api('GET', `/v2/accounts/${first.json.id}`);
    expect(got.json).toMatchObject({
      id: first.json.id,
      username: 'op_alice',
      email: 'opalice@example.org',
      is_blocked: false,
      subscriptions: [{ id: '100' }, { id: '5010' }],
    });
    expect(got.json.created).toMatch(PLATFORM_TIME);
    expect(got.json.updated).toMatch(PLATFORM_TIME);
    expect(sim.store.all()).toHaveLength(1);
  });

  it('gives distinct ids to distinct usernames', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) ids.add((await create(`op_u${i}`)).json.id);
    expect(ids.size).toBe(50);
  });

  it.each([
    ['no username', { email: 'a@b.c' }],
    ['a space in the username', { username: 'a b', email: 'a@b.c' }],
    ['a 101-char username', { username: 'u'.repeat(101), email: 'a@b.c' }],
    ['an empty username', { username: '', email: 'a@b.c' }],
    ['no email', { username: 'op_x' }],
    ['an upper-case email', { username: 'op_x', email: 'A@b.c' }],
    ['a 101-char email', { username: 'op_x', email: `${'a'.repeat(95)}@b.com` }],
    ['a 4-char password', { username: 'op_x', email: 'a@b.c', password: '1234' }],
    ['a 101-char password', { username: 'op_x', email: 'a@b.c', password: 'p'.repeat(101) }],
    ['purchases that are not a list', { username: 'op_x', email: 'a@b.c', purchases: '100' }],
    ['an unknown purchase', { username: 'op_x', email: 'a@b.c', purchases: ['777'] }],
    ['a non-object body', [1, 2]],
  ])('refuses a create with %s (400 {error})', async (_what, body) => {
    const res = await api('POST', '/v2/accounts', body);
    expect(res.status).toBe(400);
    expect(typeof res.json.error).toBe('string');
    expect(sim.store.all()).toHaveLength(0);
  });

  it('accepts the limits themselves: 100-char username of every allowed character class, 100-char email, 5-char password', async () => {
    const username = `aZ9_@.+-/${'x'.repeat(91)}`;
    const res = await api('POST', '/v2/accounts', {
      username,
      email: `${'a'.repeat(94)}@b.com`,
      password: '12345',
    });
    expect(res.status).toBe(200);
    expect(sim.store.byName(username)?.password).toBe('12345');
  });

  it('answers 400 "belongs to other provider" for a username another operator owns', async () => {
    await api('POST', '/_simulator/foreign-usernames', { usernames: ['taken'] });
    const res = await create('taken');
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: FOREIGN_USERNAME_TEXT });
  });

  it('answers 404 {error:"not found"} for an unknown account', async () => {
    for (const path of ['/v2/accounts/5964c533098f6b6123456789', '/v2/accounts/nobody/subscriptions']) {
      const res = await api('GET', path);
      expect(res.status).toBe(404);
      expect(res.json).toEqual({ error: 'not found' });
    }
  });

  it('archives on DELETE: 403 on every later call, out of listings; re-create brings it back with created:false', async () => {
    const { id } = (await create('op_gone', { purchases: ['101'] })).json;
    await create('op_stays');
    expect((await api('DELETE', `/v2/accounts/${id}`)).json).toEqual({ deleted: true });
    for (const [method, path, body] of [
      ['GET', `/v2/accounts/${id}`],
      ['GET', `/v2/accounts/${id}/subscriptions`],
      ['POST', `/v2/accounts/${id}/subscriptions`, { id: '100', valid: true }],
      ['POST', `/v2/accounts/${id}/update`, { region: 'x' }],
      ['POST', `/v2/accounts/${id}/reset-password`, {}],
      ['DELETE', `/v2/accounts/${id}`],
    ] as const) {
      expect((await api(method, path, body)).status, `${method} ${path}`).toBe(403);
    }
    const v3 = await api('POST', `/accounts/v3/${id}/account-state`, state());
    expect(v3.status).toBe(403);
    expect(v3.json).toEqual({ code: expect.any(String), message: expect.any(String) });
    const listed = await api('GET', '/v2/accounts?page_size=-1');
    expect(listed.json.accounts.map((a: { username: string }) => a.username)).toEqual(['op_stays']);
    expect(listed.json.pagination.total).toBe(1);

    const back = await create('op_gone');
    expect(back.json).toEqual({ id, created: false });
    const got = await api('GET', `/v2/accounts/${id}`);
    expect(got.status).toBe(200);
    expect(got.json.subscriptions).toEqual([{ id: '101' }]);
    const relisted = await api('GET', '/v2/accounts?page_size=-1');
    expect(relisted.json.accounts.map((a: { username: string }) => a.username)).toEqual([
      'op_gone',
      'op_stays',
    ]);
  });

  it('updates region and info, and ignores an email in the update body', async () => {
    const { id } = (await create('op_upd')).json;
    const res = await api('POST', `/v2/accounts/${id}/update`, {
      region: 'msk',
      info: { a: 1 },
      email: 'new@x.y',
    });
    expect(res.json).toEqual({ region: 'msk', info: { a: 1 } });
    const got = (await api('GET', `/v2/accounts/${id}`)).json;
    expect(got).toMatchObject({ region: 'msk', info: { a: 1 }, email: 'opupd@example.org' });
    expect((await api('POST', `/v2/accounts/${id}/update`, { region: 5 })).status).toBe(400);
  });

  it('resets a password to the one given, or generates one for an empty body', async () => {
    const { id } = (await create('op_pw', { password: 'first-pass' })).json;
    expect((await api('POST', `/v2/accounts/${id}/reset-password`, { password: 'second' })).json).toEqual({
      status: 'ok',
      created: false,
    });
    expect(sim.store.byName('op_pw')?.password).toBe('second');
    const empty = await api('POST', `/v2/accounts/${id}/reset-password`, '');
    expect(empty.status).toBe(200);
    expect(empty.json.created).toBe(true);
    expect(sim.store.byName('op_pw')?.password).not.toBe('second');
    expect((await api('POST', `/v2/accounts/${id}/reset-password`, { password: 'abc' })).status).toBe(400);
  });
});

describe('addressing {id}', () => {
  it("'both' (default) takes the account id or the username, usernames with / @ + included", async () => {
    const { id } = (await create('op/a@b+c')).json;
    expect((await api('GET', `/v2/accounts/${id}`)).json.username).toBe('op/a@b+c');
    expect((await api('GET', `/v2/accounts/${enc('op/a@b+c')}`)).json.id).toBe(id);
  });

  it("'accountId' takes only ids, 'username' only usernames", async () => {
    const { id } = (await create('op_mode')).json;
    await api('PUT', '/_simulator/settings', { idMode: 'accountId' });
    expect((await api('GET', `/v2/accounts/${id}`)).status).toBe(200);
    expect((await api('GET', '/v2/accounts/op_mode')).status).toBe(404);
    await api('PUT', '/_simulator/settings', { idMode: 'username' });
    expect((await api('GET', `/v2/accounts/${id}`)).status).toBe(404);
    expect((await api('GET', '/v2/accounts/op_mode')).status).toBe(200);
  });
});

describe('listing', () => {
  it('pages from 0 in creation order with pagination {page, page_size, pages, total}', async () => {
    for (let i = 0; i < 7; i++) await create(`op_p${i}`);
    const page = async (size: number, num: number) =>
      (await api('GET', `/v2/accounts?page_size=${size}&page_num=${num}`)).json;
    expect((await page(3, 0)).pagination).toEqual({ page: 0, page_size: 3, pages: 3, total: 7 });
    expect((await page(3, 2)).accounts.map((a: { username: string }) => a.username)).toEqual(['op_p6']);
    expect((await page(3, 3)).accounts).toEqual([]);
    const all = await page(-1, 0);
    expect(all.pagination).toEqual({ page: 0, page_size: -1, pages: 1, total: 7 });
    expect(all.accounts.map((a: { username: string }) => a.username)).toEqual(
      [0, 1, 2, 3, 4, 5, 6].map((i) => `op_p${i}`),
    );
  });

  it.each(['page_size=0', 'page_size=-2', 'page_size=x', 'page_size=10&page_num=-1'])(
    'answers 400 to %s',
    async (q) => {
      expect((await api('GET', `/v2/accounts?${q}`)).status).toBe(400);
    },
  );

  it('any page size: the pages together are every live account once, in creation order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 1, max: 15 }),
        fc.integer({ min: 0, max: 12 }),
        async (n, size, archiveAt) => {
          sim.reset();
          const ids: string[] = [];
          for (let i = 0; i < n; i++) ids.push((await create(`op_q${i}`)).json.id);
          if (archiveAt < n) await api('DELETE', `/v2/accounts/${ids[archiveAt]}`);
          const live = ids.filter((_, i) => i !== archiveAt);
          const seen: string[] = [];
          const first = (await api('GET', `/v2/accounts?page_size=${size}&page_num=0`)).json;
          expect(first.pagination.total).toBe(live.length);
          for (let p = 0; p < first.pagination.pages; p++) {
            const page = (await api('GET', `/v2/accounts?page_size=${size}&page_num=${p}`)).json;
            seen.push(...page.accounts.map((a: { id: string }) => a.id));
          }
          expect(seen).toEqual(live);
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('subscriptions', () => {
  it('serves the default catalogue', async () => {
    expect((await api('GET', '/v2/subscriptions')).json).toEqual(DEFAULT_CATALOGUE);
  });

  it('enables and disables idempotently, one per call, answering {id, valid}', async () => {
    const { id } = (await create('op_s')).json;
    const set = (sub: string, valid: boolean) =>
      api('POST', `/v2/accounts/${id}/subscriptions`, { id: sub, valid });
    expect((await set('100', true)).json).toEqual({ id: '100', valid: true });
    expect((await set('100', true)).json).toEqual({ id: '100', valid: true });
    await set('5012', true);
    expect((await api('GET', `/v2/accounts/${id}/subscriptions`)).json).toEqual([
      { id: '100' },
      { id: '5012' },
    ]);
    expect((await set('100', false)).json).toEqual({ id: '100', valid: false });
    expect((await set('100', false)).status).toBe(200);
    expect((await api('GET', `/v2/accounts/${id}/subscriptions`)).json).toEqual([{ id: '5012' }]);
  });

  it('answers {} (200) for an unknown subscription and changes nothing', async () => {
    const { id } = (await create('op_s')).json;
    const res = await api('POST', `/v2/accounts/${id}/subscriptions`, { id: '9999', valid: true });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({});
    expect(sim.store.byName('op_s')?.subscriptions.size).toBe(0);
  });

  it('refuses to enable an archived subscription (400 ValidationErrIsArchived) but lets it be disabled', async () => {
    const { id } = (await create('op_s')).json;
    const on = await api('POST', `/v2/accounts/${id}/subscriptions`, { id: '5099', valid: true });
    expect(on.status).toBe(400);
    expect(on.json).toEqual({ error: ARCHIVED_SUBSCRIPTION_TEXT });
    expect((await api('POST', `/v2/accounts/${id}/subscriptions`, { id: '5099', valid: false })).status).toBe(
      200,
    );
  });

  it.each([{ id: '100' }, { id: 100, valid: true }, { valid: true }, 'not json'])(
    'answers 400 to the body %j',
    async (body) => {
      const { id } = (await create('op_s')).json;
      expect((await api('POST', `/v2/accounts/${id}/subscriptions`, body)).status).toBe(400);
    },
  );
});

describe('account state (v3)', () => {
  const push = (id: string, body: unknown, delayed = false) =>
    api('POST', `/accounts/v3/${id}/account-state${delayed ? '?delayed=true' : ''}`, body);

  it('stores an accepted state and answers {status, message}', async () => {
    const { id } = (await create('op_st')).json;
    const body = state({
      balance: -500,
      status: 'suspended_no_funds',
      tvSuspended: true,
      recommendedRefill: 700,
    });
    const res = await push(id, body, true);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok', message: expect.any(String) });
    expect(sim.store.byName('op_st')?.state).toMatchObject({ ...body, delayed: true });
    expect((await api('GET', `/v2/accounts/${id}`)).json.is_blocked).toBe(true);
  });

  it('ignores a push whose stamp is not newer (still 200), and records that it was ignored', async () => {
    const { id } = (await create('op_st')).json;
    const t = Date.now();
    await push(id, state({ balance: 1, stateTimestamp: t }));
    const older = await push(id, state({ balance: 2, stateTimestamp: t - 1 }));
    const same = await push(id, state({ balance: 3, stateTimestamp: t }));
    expect([older.status, same.status]).toEqual([200, 200]);
    expect(sim.store.byName('op_st')?.state?.balance).toBe(1);
    expect(sim.store.byName('op_st')?.ignoredStatePushes).toBe(2);
    const calls = (await api('GET', '/_simulator/calls')).json.calls.filter((c: { route: string }) =>
      c.route.includes('account-state'),
    );
    expect(calls.map((c: { ignored?: boolean }) => c.ignored ?? false)).toEqual([false, true, true]);
    await push(id, state({ balance: 4, stateTimestamp: t + 1 }));
    expect(sim.store.byName('op_st')?.state?.balance).toBe(4);
  });

  it.each([
    ['no balance', { balance: undefined }],
    ['a fractional balance', { balance: 1.5 }],
    ['an unknown status', { status: 'blocked' }],
    ['tvSuspended not boolean', { tvSuspended: 'no' }],
    ['active with tvSuspended', { status: 'active', tvSuspended: true }],
    ['no stateTimestamp', { stateTimestamp: undefined }],
    ['a string stateTimestamp', { stateTimestamp: '2024-01-01' }],
    ['a fractional recommendedRefill', { recommendedRefill: 0.5 }],
    // stamps relative to when the test runs, not to when the table was built
    ['a stamp 2 h in the past', () => ({ stateTimestamp: Date.now() - 2 * 3600_000 - 1000 })],
    ['a stamp 10 min in the future', () => ({ stateTimestamp: Date.now() + 10 * 60_000 + 1000 })],
  ])('refuses %s with a v3 error {code, message}', async (_what, over) => {
    const { id } = (await create('op_st')).json;
    const res = await push(id, state(typeof over === 'function' ? over() : over));
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ code: expect.any(String), message: expect.any(String) });
    expect(sim.store.byName('op_st')?.state).toBeUndefined();
  });

  it('accepts a stamp just inside the window, and any stamp once the window is switched off', async () => {
    const { id } = (await create('op_st')).json;
    expect((await push(id, state({ stateTimestamp: Date.now() - 2 * 3600_000 + 60_000 }))).status).toBe(200);
    await api('PUT', '/_simulator/settings', { stateTimestampWindow: null });
    expect((await push(id, state({ stateTimestamp: Date.now() + 3600_000 }))).status).toBe(200);
  });

  it('answers 404 in the v3 form for an unknown account', async () => {
    const res = await push('5964c533098f6b6123456789', state());
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ code: expect.any(String), message: expect.any(String) });
  });
});
