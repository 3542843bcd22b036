// Fault injection, through the control API and on the rule engine itself.
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FaultInjector, type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { call, enc } from './http.js';

let sim: Simulator;
const api = (method: string, path: string, body?: unknown) => call(sim.url, method, path, body);
const addFault = async (rule: unknown) => {
  const res = await api('POST', '/_simulator/faults', rule);
  expect(res.status).toBe(201);
  return res.json.id as number;
};
const createBody = (username: string) => ({ username, email: 'x@example.org' });
const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
};

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

describe('rules through the control API', () => {
  it.each([
    { kind: 'flood' },
    { kind: 'latency' },
    { kind: '5xx', status: 404 },
    { kind: '5xx', match: { pathRegex: '([' } },
    { kind: '5xx', probability: 2 },
    { kind: '5xx', count: 0 },
    { kind: '5xx', match: { host: 'x' } },
  ])('refuses the rule %j with 400', async (rule) => {
    expect((await api('POST', '/_simulator/faults', rule)).status).toBe(400);
    expect(sim.faults.list()).toEqual([]);
  });

  it("'5xx' with count answers that many 500s in the v2 form, then removes itself", async () => {
    const id = await addFault({ kind: '5xx', count: 2 });
    expect((await api('GET', '/_simulator/faults')).json.faults).toEqual([
      expect.objectContaining({ id, kind: '5xx' }),
    ]);
    const a = await api('GET', '/v2/subscriptions');
    const b = await api('GET', '/v2/subscriptions');
    const c = await api('GET', '/v2/subscriptions');
    expect([a.status, b.status, c.status]).toEqual([500, 500, 200]);
    expect(a.json).toEqual({ error: expect.any(String) });
    expect((await api('GET', '/_simulator/faults')).json.faults).toEqual([]);
    const calls = (await api('GET', '/_simulator/calls')).json.calls;
    expect(calls.map((x: { fault?: string }) => x.fault)).toEqual(['5xx', '5xx', undefined]);
  });

  it("'5xx' on a v3 path answers in the v3 form, with the status asked for", async () => {
    await addFault({ kind: '5xx', status: 503, count: 1 });
    const res = await api('POST', '/accounts/v3/x/account-state', {});
    expect(res.status).toBe(503);
    expect(res.json).toEqual({ code: expect.any(String), message: expect.any(String) });
  });

  it("'429' sends Retry-After when asked; '403' answers 403; 'respond' answers anything", async () => {
    await addFault({ kind: '429', retryAfter: 7, count: 1 });
    const limited = await api('GET', '/v2/subscriptions');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    await addFault({ kind: '403', count: 1 });
    expect((await api('GET', '/v2/subscriptions')).status).toBe(403);
    await addFault({ kind: 'respond', status: 200, body: '<html>proxy</html>', count: 1 });
    const html = await api('GET', '/v2/subscriptions');
    expect([html.status, html.text]).toEqual([200, '<html>proxy</html>']);
    await addFault({ kind: 'respond', status: 400, body: { error: 'User not found' }, count: 1 });
    expect((await api('GET', '/v2/subscriptions')).json).toEqual({ error: 'User not found' });
  });

  it('a failing rule keeps the call from being applied', async () => {
    await addFault({ kind: '5xx', count: 1 });
    expect((await api('POST', '/v2/accounts', createBody('op_a'))).status).toBe(500);
    expect(sim.store.byName('op_a')).toBeUndefined();
  });

  it("'latency' rules add up before the deciding rule, and the call is then answered or failed", async () => {
    await addFault({ kind: 'latency', ms: 60 });
    await addFault({ kind: 'latency', ms: 60, match: { method: 'POST' } });
    let t = performance.now();
    expect((await api('POST', '/v2/accounts', createBody('op_slow'))).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(115);
    expect(sim.store.byName('op_slow')).toBeDefined();
    t = performance.now();
    await api('GET', '/v2/subscriptions');
    const getMs = performance.now() - t;
    expect(getMs).toBeGreaterThanOrEqual(55);
    await addFault({ kind: '403' });
    expect((await api('GET', '/v2/subscriptions')).status).toBe(403);
  });

  it("'reset' drops the connection without an answer and without applying the call", async () => {
    await addFault({ kind: 'reset', count: 1 });
    await expect(api('POST', '/v2/accounts', createBody('op_r'))).rejects.toMatchObject({
      code: 'UND_ERR_SOCKET',
    });
    expect(sim.store.byName('op_r')).toBeUndefined();
    const [rec] = (await api('GET', '/_simulator/calls')).json.calls;
    expect(rec).toMatchObject({ status: 0, fault: 'reset' });
    expect((await api('POST', '/v2/accounts', createBody('op_r'))).status).toBe(200);
  });

  it("'hang' holds a call until the rule is cleared; the call then goes on", async () => {
    const id = await addFault({ kind: 'hang' });
    const pending = api('POST', '/v2/accounts', createBody('op_h'));
    await waitFor(() => sim.faults.heldCount === 1);
    expect(sim.store.byName('op_h')).toBeUndefined();
    expect((await api('GET', '/_simulator/stats')).json).toMatchObject({ heldCalls: 1, inFlight: 1 });
    expect((await api('DELETE', `/_simulator/faults/${id}`)).json).toEqual({ removed: 1 });
    expect((await pending).status).toBe(200);
    expect(sim.store.byName('op_h')).toBeDefined();
    expect(sim.recorder.inFlight).toBe(0);
  });

  it("'hang': a call whose client gives up is dropped, not applied", async () => {
    await addFault({ kind: 'hang' });
    const abort = new AbortController();
    const pending = request(`${sim.url}/v2/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(createBody('op_gaveup')),
      signal: abort.signal,
    });
    await waitFor(() => sim.faults.heldCount === 1);
    abort.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(() => sim.faults.heldCount === 0);
    await api('DELETE', '/_simulator/faults');
    expect(sim.store.byName('op_gaveup')).toBeUndefined();
    expect(sim.recorder.since(0, 10).calls).toEqual([expect.objectContaining({ status: 0, fault: 'hang' })]);
    expect(sim.recorder.inFlight).toBe(0);
  });

  it('matches by method, path prefix, path regex, account id and username (a create matches by its body)', async () => {
    const a = (await api('POST', '/v2/accounts', createBody('op_a'))).json.id;
    const b = (await api('POST', '/v2/accounts', createBody('op/b'))).json.id;
    await addFault({ kind: '403', match: { username: 'op/b' } });
    expect((await api('GET', `/v2/accounts/${a}`)).status).toBe(200);
    expect((await api('GET', `/v2/accounts/${b}`)).status).toBe(403);
    expect((await api('GET', `/v2/accounts/${enc('op/b')}/subscriptions`)).status).toBe(403);
    expect((await api('POST', '/v2/accounts', createBody('op/b'))).status).toBe(403);
    await api('DELETE', '/_simulator/faults');

    await addFault({ kind: '5xx', match: { accountId: a, method: 'post' } });
    expect((await api('GET', `/v2/accounts/${a}`)).status).toBe(200);
    expect((await api('POST', `/v2/accounts/op_a/update`, {})).status).toBe(500);
    expect((await api('POST', `/v2/accounts/${b}/update`, {})).status).toBe(200);
    await api('DELETE', '/_simulator/faults');

    await addFault({ kind: '5xx', match: { pathPrefix: '/accounts/v3/' } });
    await addFault({ kind: '403', match: { pathRegex: '/subscriptions$' } });
    expect((await api('POST', `/accounts/v3/${a}/account-state`, {})).status).toBe(500);
    expect((await api('GET', `/v2/accounts/${a}/subscriptions`)).status).toBe(403);
    expect((await api('GET', '/v2/subscriptions')).status).toBe(403);
    expect((await api('GET', `/v2/accounts/${a}`)).status).toBe(200);
  });

  it('probability 0 never fires; the control API itself is never faulted', async () => {
    await addFault({ kind: '5xx', probability: 0 });
    for (let i = 0; i < 20; i++) expect((await api('GET', '/v2/subscriptions')).status).toBe(200);
    await addFault({ kind: '5xx' });
    expect((await api('GET', '/_simulator/stats')).status).toBe(200);
    expect((await api('GET', '/v2/subscriptions')).status).toBe(500);
  });

  it('DELETE of an unknown rule answers 404', async () => {
    expect((await api('DELETE', '/_simulator/faults/999')).status).toBe(404);
  });
});

describe('FaultInjector', () => {
  it('fires a rule with probability p exactly when the random draw is below p, and counts only firings', () => {
    const draws = [0.1, 0.7, 0.49, 0.5];
    const f = new FaultInjector(() => draws.shift() ?? 1);
    f.add({ kind: '5xx', probability: 0.5, count: 2 });
    const t = { method: 'GET', path: '/v2/subscriptions' };
    expect(f.decide(t).rule?.kind).toBe('5xx');
    expect(f.decide(t).rule).toBeUndefined();
    expect(f.decide(t).rule?.kind).toBe('5xx');
    expect(f.list()).toEqual([]);
    expect(f.decide(t).rule).toBeUndefined();
  });
});
