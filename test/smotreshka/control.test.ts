// The simulator's control API: recorded calls, stats, reset, platform-side changes, settings.
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Recorder, type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { call, enc } from './http.js';

let sim: Simulator;
const api = (method: string, path: string, body?: unknown) => call(sim.url, method, path, body);
const create = async (username: string, purchases: string[] = []) =>
  (await api('POST', '/v2/accounts', { username, email: 'x@example.org', purchases })).json.id as string;

beforeAll(async () => {
  sim = await startSimulator({ recordLimit: 5 });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

describe('recorded calls', () => {
  it('records method, path as sent, query, body, status and route of every platform call, not of control calls', async () => {
    await create('op/r');
    await api('GET', `/v2/accounts/${enc('op/r')}?x=1`);
    const { calls, lastSeq } = (await api('GET', '/_simulator/calls')).json;
    expect(lastSeq).toBe(2);
    expect(calls).toEqual([
      expect.objectContaining({
        seq: 1,
        method: 'POST',
        path: '/v2/accounts',
        route: 'POST /v2/accounts',
        body: { username: 'op/r', email: 'x@example.org', purchases: [] },
        status: 200,
      }),
      expect.objectContaining({
        seq: 2,
        method: 'GET',
        path: '/v2/accounts/op%2Fr',
        query: { x: '1' },
        status: 200,
      }),
    ]);
    expect(calls[0].at).toBeGreaterThan(Date.now() - 60_000);
    expect(calls[0].ms).toBeGreaterThanOrEqual(0);
  });

  it('keeps only the last recordLimit calls but counts them all; since/limit page through them', async () => {
    for (let i = 0; i < 8; i++) await api('GET', '/v2/subscriptions');
    const all = (await api('GET', '/_simulator/calls')).json;
    expect(all.calls.map((c: { seq: number }) => c.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(all.oldestSeq).toBe(4);
    expect(
      (await api('GET', '/_simulator/calls?since=6')).json.calls.map((c: { seq: number }) => c.seq),
    ).toEqual([7, 8]);
    expect(
      (await api('GET', '/_simulator/calls?since=0&limit=2')).json.calls.map((c: { seq: number }) => c.seq),
    ).toEqual([4, 5]);
    const stats = (await api('GET', '/_simulator/stats')).json;
    expect(stats.total).toBe(8);
    expect(stats.routes['GET /v2/subscriptions']).toEqual({ calls: 8, statuses: { 200: 8 } });
  });

  it('DELETE /_simulator/calls forgets calls and totals; seq keeps counting', async () => {
    await api('GET', '/v2/subscriptions');
    await api('GET', '/v2/accounts/nobody');
    expect((await api('DELETE', '/_simulator/calls')).json).toEqual({ cleared: 2 });
    expect((await api('GET', '/_simulator/calls')).json.calls).toEqual([]);
    expect((await api('GET', '/_simulator/stats')).json.total).toBe(0);
    await api('GET', '/v2/subscriptions');
    expect((await api('GET', '/_simulator/calls')).json.calls.map((c: { seq: number }) => c.seq)).toEqual([
      3,
    ]);
  });

  it('stats count by route and status, and count accounts', async () => {
    const id = await create('op_a');
    await create('op_b');
    await api('DELETE', `/v2/accounts/${id}`);
    await api('GET', `/v2/accounts/${id}`);
    const stats = (await api('GET', '/_simulator/stats')).json;
    expect(stats.routes['GET /v2/accounts/:id']).toEqual({ calls: 1, statuses: { 403: 1 } });
    expect(stats.routes['POST /v2/accounts']).toEqual({ calls: 2, statuses: { 200: 2 } });
    expect(stats).toMatchObject({ accounts: 1, archivedAccounts: 1, inFlight: 0, faults: 0 });
  });

  it('the ring buffer holds the newest min(n, limit) calls in order, for any n', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 60 }), (limit, n) => {
        const r = new Recorder(limit);
        for (let i = 0; i < n; i++) {
          r.record({
            at: i,
            method: 'GET',
            path: `/p${i}`,
            route: 'GET /p',
            query: {},
            body: undefined,
            status: 200,
            ms: 0,
          });
        }
        const got = r.since(0, 1000).calls.map((c) => c.path);
        const want = Array.from({ length: Math.min(n, limit) }, (_, k) => `/p${n - Math.min(n, limit) + k}`);
        expect(got).toEqual(want);
        expect(r.stats().total).toBe(n);
      }),
    );
  });
});

describe('platform-side state', () => {
  it('GET /_simulator/accounts shows everything, archived accounts and pushed state included', async () => {
    const id = await create('op_a', ['100']);
    await api('POST', `/accounts/v3/${id}/account-state`, {
      balance: 5,
      status: 'active',
      tvSuspended: false,
      stateTimestamp: Date.now(),
    });
    await api('DELETE', `/v2/accounts/${id}`);
    const [acc] = (await api('GET', '/_simulator/accounts')).json.accounts;
    expect(acc).toMatchObject({ id, username: 'op_a', archived: true, subscriptions: [{ id: '100' }] });
    expect(acc.state).toMatchObject({ balance: 5, status: 'active', delayed: false });
    expect(acc.password).toBeUndefined();
  });

  it('PUT /_simulator/accounts/{username}/subscriptions replaces them as a subscriber would', async () => {
    const id = await create('op/a', ['100', '5010']);
    const res = await api('PUT', `/_simulator/accounts/${enc('op/a')}/subscriptions`, {
      subscriptions: ['101', '5012'],
    });
    expect(res.status).toBe(200);
    expect((await api('GET', `/v2/accounts/${id}/subscriptions`)).json).toEqual([
      { id: '101' },
      { id: '5012' },
    ]);
    expect((await api('PUT', `/_simulator/accounts/${enc('op/a')}/subscriptions`, ['102'])).status).toBe(200);
    expect((await api('GET', `/v2/accounts/${id}/subscriptions`)).json).toEqual([{ id: '102' }]);
  });

  it('refuses unknown subscriptions, newly added archived ones, unknown and archived accounts', async () => {
    const id = await create('op_a', ['100']);
    const put = (u: string, subs: string[]) => api('PUT', `/_simulator/accounts/${u}/subscriptions`, subs);
    expect((await put('op_a', ['9999'])).status).toBe(400);
    expect((await put('op_a', ['5099'])).status).toBe(400);
    expect((await put('nobody', ['100'])).status).toBe(404);
    await api('DELETE', `/v2/accounts/${id}`);
    expect((await put('op_a', ['100'])).status).toBe(409);
    expect(sim.store.byName('op_a')?.subscriptions).toEqual(new Set(['100']));
  });

  it('foreign usernames: any sequence of adds and removes leaves the set equal to a model', async () => {
    const names = ['f1', 'f/2', 'f@3', 'f+4'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.boolean(), fc.subarray(names, { minLength: 1 })), { maxLength: 8 }),
        async (ops) => {
          sim.reset();
          const model = new Set<string>();
          for (const [add, usernames] of ops) {
            if (add) {
              await api('POST', '/_simulator/foreign-usernames', { usernames });
              for (const u of usernames) model.add(u);
            } else {
              for (const u of usernames) {
                await api('DELETE', `/_simulator/foreign-usernames/${enc(u)}`);
                model.delete(u);
              }
            }
          }
          const got = (await api('GET', '/_simulator/foreign-usernames')).json.usernames;
          expect(new Set(got)).toEqual(model);
          for (const u of names) {
            const res = await api('POST', '/v2/accounts', { username: u, email: 'x@example.org' });
            expect(res.status, u).toBe(model.has(u) ? 400 : 200);
          }
        },
      ),
      { numRuns: 10 },
    );
  });

  it('PUT /_simulator/catalogue replaces the catalogue; archived items list but cannot be enabled', async () => {
    const res = await api('PUT', '/_simulator/catalogue', [
      { id: '1', name: 'One', channels: [] },
      { id: '2', name: 'Two', archived: true },
    ]);
    expect(res.status).toBe(200);
    expect((await api('GET', '/v2/subscriptions')).json).toEqual([
      { id: '1', name: 'One', channels: [] },
      { id: '2', name: 'Two' },
    ]);
    const id = await create('op_a');
    const on = (sub: string) => api('POST', `/v2/accounts/${id}/subscriptions`, { id: sub, valid: true });
    expect((await on('1')).json).toEqual({ id: '1', valid: true });
    expect((await on('2')).status).toBe(400);
    expect((await on('100')).json).toEqual({});
    expect((await api('PUT', '/_simulator/catalogue', [{ name: 'no id' }])).status).toBe(400);
  });

  it('POST /_simulator/reset forgets accounts, foreign usernames, catalogue changes, settings and faults', async () => {
    await create('op_a');
    await api('POST', '/_simulator/foreign-usernames', { usernames: ['f'] });
    await api('PUT', '/_simulator/catalogue', [{ id: '1', name: 'One' }]);
    await api('PUT', '/_simulator/settings', { idMode: 'username', latencyMs: 5 });
    await api('POST', '/_simulator/faults', { kind: '5xx' });
    expect((await api('POST', '/_simulator/reset')).json).toEqual({ reset: true });
    expect((await api('GET', '/_simulator/calls')).json).toMatchObject({ calls: [], lastSeq: 0 });
    expect((await api('GET', '/_simulator/accounts')).json.accounts).toEqual([]);
    expect((await api('GET', '/_simulator/foreign-usernames')).json.usernames).toEqual([]);
    expect((await api('GET', '/v2/subscriptions')).json.map((s: { id: string }) => s.id)).toContain('100');
    expect((await api('GET', '/_simulator/settings')).json).toMatchObject({ idMode: 'both', latencyMs: 0 });
    expect((await api('GET', '/_simulator/faults')).json.faults).toEqual([]);
  });

  it('settings: refuses unknown keys and bad values', async () => {
    expect((await api('PUT', '/_simulator/settings', { idMode: 'login' })).status).toBe(400);
    expect((await api('PUT', '/_simulator/settings', { speed: 1 })).status).toBe(400);
    expect((await api('PUT', '/_simulator/settings', { latencyMs: 3 })).json.latencyMs).toBe(3);
  });
});
