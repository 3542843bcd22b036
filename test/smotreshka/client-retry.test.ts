// The client's resilience: what is retried and how often, timeouts, Retry-After, and that the
// concurrency limit holds as seen from the platform's side.
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPlatformClient, type PlatformClientOptions } from '../../src/smotreshka/client.js';
import { PlatformError } from '../../src/smotreshka/errors.js';
import { type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';

let sim: Simulator;
const clients: { close(): Promise<void> }[] = [];

function client(over: Partial<PlatformClientOptions> = {}) {
  const c = createPlatformClient({
    url: sim.url,
    concurrency: 4,
    timeoutMs: 2000,
    retries: 3,
    minRetryDelayMs: 1,
    maxRetryDelayMs: 5,
    ...over,
  });
  clients.push(c);
  return c;
}

const attempts = (route: string) => sim.recorder.stats().routes[route]?.calls ?? 0;

async function rejection(p: Promise<unknown>): Promise<PlatformError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PlatformError);
  return err as PlatformError;
}

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim.close();
});
beforeEach(() => sim.reset());

describe('retries', () => {
  it.each([
    ['500', { kind: '5xx' }],
    ['503', { kind: '5xx', status: 503 }],
    ['429', { kind: '429' }],
    ['a dropped connection', { kind: 'reset' }],
  ] as const)('retries after %s and succeeds once the platform recovers', async (_what, fault) => {
    const c = client();
    sim.faults.add({ ...fault, count: 2 });
    expect(await c.listSubscriptions()).toHaveLength(8);
    expect(attempts('GET /v2/subscriptions')).toBe(3);
    expect(c.stats()).toMatchObject({ calls: 1, attempts: 3, retries: 2 });
  });

  it('a v3 500 ("send it again") is retried like any 5xx', async () => {
    const c = client();
    const { id } = await c.createAccount({ username: 'op_a', email: 'a@example.org' });
    sim.faults.add({ kind: '5xx', count: 1, match: { pathPrefix: '/accounts/v3/' } });
    await c.pushAccountState(
      id,
      { balance: 1, status: 'active', tvSuspended: false },
      { stateTimestamp: Date.now() },
    );
    expect(attempts('POST /accounts/v3/:id/account-state')).toBe(2);
    expect(sim.store.byName('op_a')?.state?.balance).toBe(1);
  });

  it('stops after `retries` and throws a transient error: retries + 1 attempts in all', async () => {
    for (const retries of [0, 1, 3]) {
      sim.reset();
      const c = client({ retries });
      sim.faults.add({ kind: '5xx' });
      const err = await rejection(c.listSubscriptions());
      expect(err.kind).toBe('transient');
      expect(err.status).toBe(500);
      expect(attempts('GET /v2/subscriptions')).toBe(retries + 1);
      expect(c.stats().failures.transient).toBe(1);
    }
  });

  it.each([
    ['403', { kind: '403' }, 'forbidden'],
    ['a 400', { kind: 'respond', status: 400, body: { error: 'Bad Request' } }, 'bad_request'],
    ['a 404', { kind: 'respond', status: 404, body: { error: 'not found' } }, 'not_found'],
    ['an unreadable 200', { kind: 'respond', status: 200, body: 'garbage' }, 'protocol'],
  ] as const)('does not retry %s', async (_what, fault, kind) => {
    const c = client();
    sim.faults.add({ ...fault, count: 5 });
    const err = await rejection(c.listSubscriptions());
    expect(err.kind).toBe(kind);
    expect(attempts('GET /v2/subscriptions')).toBe(1);
    expect(c.stats().retries).toBe(0);
  });

  it('honours Retry-After on 429', async () => {
    const c = client({ retries: 1 });
    sim.faults.add({ kind: '429', retryAfter: 1, count: 1 });
    const t = performance.now();
    await c.listSubscriptions();
    expect(performance.now() - t).toBeGreaterThanOrEqual(990);
    expect(attempts('GET /v2/subscriptions')).toBe(2);
  });

  it('caps a Retry-After at maxRetryAfterMs', async () => {
    const c = client({ retries: 1, maxRetryAfterMs: 50 });
    sim.faults.add({ kind: '429', retryAfter: 3600, count: 1 });
    const t = performance.now();
    await c.listSubscriptions();
    expect(performance.now() - t).toBeLessThan(900);
  });

  it('a retried DELETE that finds the account already archived (403) counts as done', async () => {
    // The first DELETE is applied after the client gave up on it (latency beyond the timeout);
    // the retry then meets the archived account.
    const c = client({ timeoutMs: 100, retries: 2, minRetryDelayMs: 250, maxRetryDelayMs: 250 });
    const { id } = await c.createAccount({ username: 'op_a', email: 'a@example.org' });
    sim.faults.add({ kind: 'latency', ms: 150, count: 1, match: { method: 'DELETE' } });
    await c.deleteAccount(id);
    expect(sim.store.byName('op_a')?.archived).toBe(true);
    expect(attempts('DELETE /v2/accounts/:id')).toBe(2);
    expect(sim.recorder.stats().routes['DELETE /v2/accounts/:id']?.statuses).toMatchObject({ 403: 1 });
  });

  it('a DELETE that meets 403 at once is forbidden', async () => {
    const c = client();
    const { id } = await c.createAccount({ username: 'op_a', email: 'a@example.org' });
    await c.deleteAccount(id);
    expect((await rejection(c.deleteAccount(id))).kind).toBe('forbidden');
  });
});

describe('timeouts', () => {
  it('gives up on a hung call after timeoutMs, retries, and reports transient', async () => {
    const c = client({ timeoutMs: 150, retries: 1 });
    sim.faults.add({ kind: 'hang' });
    const t = performance.now();
    const err = await rejection(c.listSubscriptions());
    const elapsed = performance.now() - t;
    expect(err.kind).toBe('transient');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(900);
    // both attempts reached the platform and were abandoned by the client
    await expect.poll(() => attempts('GET /v2/subscriptions')).toBe(2);
    expect(sim.faults.heldCount).toBe(0);
  });

  it('after a timeout the pool recovers: the next call goes through', async () => {
    const c = client({ timeoutMs: 100, retries: 0, concurrency: 1 });
    sim.faults.add({ kind: 'hang', count: 1 });
    expect((await rejection(c.listSubscriptions())).kind).toBe('transient');
    expect(await c.listSubscriptions()).toHaveLength(8);
  });

  it('a connection refused is transient', async () => {
    const c = createPlatformClient({
      url: 'http://127.0.0.1:1',
      concurrency: 1,
      timeoutMs: 500,
      retries: 1,
      minRetryDelayMs: 1,
    });
    clients.push(c);
    const err = await rejection(c.listSubscriptions());
    expect(err.kind).toBe('transient');
    expect(c.stats()).toMatchObject({ attempts: 2, retries: 1 });
  });
});

describe('closing', () => {
  it('waits for calls in flight, and may be called twice', async () => {
    const c = client();
    sim.faults.add({ kind: 'latency', ms: 50 });
    const pending = c.listSubscriptions();
    await new Promise((r) => setTimeout(r, 10));
    await Promise.all([c.close(), c.close()]);
    expect(await pending).toHaveLength(8);
  });
});

describe('concurrency', () => {
  it('never has more than `concurrency` calls in flight at the platform, and uses all of them', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 12 }),
        async (concurrency, n) => {
          sim.reset();
          // long enough that calls overlap even on a loaded machine (15 ms flaked under load)
          sim.faults.add({ kind: 'latency', ms: 80 });
          const c = client({ concurrency });
          await Promise.all(Array.from({ length: n }, () => c.listSubscriptions()));
          expect(sim.recorder.maxInFlight).toBe(Math.min(concurrency, n));
          await c.close();
        },
      ),
      { numRuns: 8 },
    );
  });

  it('holds the limit while calls are being retried, too', async () => {
    sim.faults.add({ kind: 'latency', ms: 10 });
    sim.faults.add({ kind: '5xx', probability: 0.5 });
    const c = client({ concurrency: 3, retries: 10 });
    await Promise.all(Array.from({ length: 30 }, () => c.listSubscriptions()));
    expect(sim.recorder.maxInFlight).toBeLessThanOrEqual(3);
    expect(c.stats().retries).toBeGreaterThan(0);
  });
});
