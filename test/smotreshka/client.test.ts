// The client against the simulator: every PlatformApi call, and what each platform answer becomes.
import { Writable } from 'node:stream';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPlatformClient, type PlatformClient } from '../../src/smotreshka/client.js';
import { PlatformError, type PlatformErrorKind } from '../../src/smotreshka/errors.js';
import { DEFAULT_CATALOGUE, type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';

let sim: Simulator;
let client: PlatformClient;

beforeAll(async () => {
  sim = await startSimulator();
  client = createPlatformClient({
    url: sim.url,
    concurrency: 4,
    timeoutMs: 2000,
    retries: 2,
    minRetryDelayMs: 1,
    maxRetryDelayMs: 5,
  });
});
afterAll(async () => {
  await client.close();
  await sim.close();
});
beforeEach(() => sim.reset());

const newAccount = (username = 'op_a', purchases: string[] = []) =>
  client.createAccount({ username, email: 'a@example.org', purchases });
const lastCall = () => sim.recorder.since(0, 1_000_000).calls.at(-1)!;

async function failure(p: Promise<unknown>): Promise<PlatformError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PlatformError);
  return err as PlatformError;
}

async function expectKind(p: Promise<unknown>, kind: PlatformErrorKind): Promise<PlatformError> {
  const err = await failure(p);
  expect(err.kind, err.message).toBe(kind);
  return err;
}

describe('every call', () => {
  it('createAccount: {id, created}, idempotent; purchases enable subscriptions', async () => {
    const first = await newAccount('op_a', ['100']);
    expect(first).toEqual({ id: expect.stringMatching(/^[0-9a-f]{24}$/), created: true });
    expect(await newAccount('op_a')).toEqual({ id: first.id, created: false });
    expect(lastCall()).toMatchObject({ method: 'POST', path: '/v2/accounts' });
    expect(sim.store.byName('op_a')?.subscriptions).toEqual(new Set(['100']));
  });

  it('getAccount: the flat account, by id or by a username with / @ +; null when unknown', async () => {
    const { id } = await newAccount('op/a@b+c', ['101']);
    const byId = await client.getAccount(id);
    expect(byId).toMatchObject({ id, username: 'op/a@b+c', subscriptions: [{ id: '101' }] });
    expect(await client.getAccount('op/a@b+c')).toEqual(byId);
    expect(lastCall().path).toBe('/v2/accounts/op%2Fa%40b%2Bc');
    expect(await client.getAccount('nobody')).toBeNull();
    expect(await client.getAccount('5964c533098f6b6123456789')).toBeNull();
  });

  it('getAccount also reads the {accounts:[...]} form of the vendor spec', async () => {
    const { id } = await newAccount();
    const flat = sim.platform.getAccount(id).body;
    sim.faults.add({ kind: 'respond', status: 200, body: { accounts: [flat] }, count: 1 });
    expect(await client.getAccount(id)).toEqual(flat);
    sim.faults.add({ kind: 'respond', status: 200, body: { accounts: [] }, count: 1 });
    expect(await client.getAccount(id)).toBeNull();
  });

  it('listAccounts: a page and its pagination', async () => {
    for (const u of ['op_1', 'op_2', 'op_3']) await newAccount(u);
    const page = await client.listAccounts(1, 2);
    expect(page.pagination).toEqual({ page: 1, page_size: 2, pages: 2, total: 3 });
    expect(page.accounts.map((a) => a.username)).toEqual(['op_3']);
    expect(lastCall().query).toEqual({ page_size: '2', page_num: '1' });
    expect((await client.listAccounts(0, -1)).accounts).toHaveLength(3);
  });

  it('deleteAccount archives; updateAccount and resetPassword send their bodies', async () => {
    const { id } = await newAccount();
    await client.updateAccount(id, { region: 'msk', info: { vg: 1 } });
    expect(sim.store.byName('op_a')).toMatchObject({ region: 'msk', info: { vg: 1 } });
    await client.resetPassword(id, 'new-password');
    expect(sim.store.byName('op_a')?.password).toBe('new-password');
    await client.resetPassword(id);
    expect(lastCall().body).toEqual({});
    expect(sim.store.byName('op_a')?.password).not.toBe('new-password');
    await client.deleteAccount(id);
    expect(sim.store.byName('op_a')?.archived).toBe(true);
  });

  it('listSubscriptions: the catalogue', async () => {
    expect(await client.listSubscriptions()).toEqual(DEFAULT_CATALOGUE);
  });

  it('setSubscription and accountSubscriptions: any sequence of enable/disable leaves the set equal to a model', async () => {
    const subs = ['100', '101', '5010', '5011', '5012'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...subs), fc.boolean()), { maxLength: 15 }),
        async (ops) => {
          sim.reset();
          const { id } = await newAccount();
          const model = new Set<string>();
          for (const [sub, valid] of ops) {
            await client.setSubscription(id, sub, valid);
            if (valid) model.add(sub);
            else model.delete(sub);
          }
          expect(new Set(await client.accountSubscriptions(id))).toEqual(model);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('pushAccountState: sends exactly the v3 body, optional fields only when given, ?delayed=true on request', async () => {
    const { id } = await newAccount();
    const t = Date.now();
    await client.pushAccountState(
      id,
      { balance: 100, status: 'active', tvSuspended: false },
      { stateTimestamp: t },
    );
    expect(lastCall()).toMatchObject({
      path: `/accounts/v3/${id}/account-state`,
      query: {},
      body: { balance: 100, status: 'active', tvSuspended: false, stateTimestamp: t },
    });
    expect(Object.keys(lastCall().body as object).sort()).toEqual([
      'balance',
      'stateTimestamp',
      'status',
      'tvSuspended',
    ]);
    await client.pushAccountState(
      id,
      { balance: -5, status: 'suspended_no_funds', tvSuspended: true, recommendedRefill: 500 },
      { stateTimestamp: t + 1, lastChangeTimestamp: t - 10 },
      true,
    );
    expect(lastCall()).toMatchObject({
      query: { delayed: 'true' },
      body: {
        balance: -5,
        status: 'suspended_no_funds',
        tvSuspended: true,
        recommendedRefill: 500,
        stateTimestamp: t + 1,
        lastChangeTimestamp: t - 10,
      },
    });
    expect(sim.store.byName('op_a')?.state).toMatchObject({ balance: -5, delayed: true });
  });

  it('a stale push is not an error (the platform answers 200 and ignores it)', async () => {
    const { id } = await newAccount();
    const t = Date.now();
    await client.pushAccountState(
      id,
      { balance: 1, status: 'active', tvSuspended: false },
      { stateTimestamp: t },
    );
    await client.pushAccountState(
      id,
      { balance: 2, status: 'active', tvSuspended: false },
      { stateTimestamp: t - 1 },
    );
    expect(sim.store.byName('op_a')?.state?.balance).toBe(1);
  });
});

describe('error kinds', () => {
  it('403 (archived account, or our address not allowed) is forbidden', async () => {
    const { id } = await newAccount();
    await client.deleteAccount(id);
    await expectKind(client.getAccount(id), 'forbidden');
    await expectKind(client.setSubscription(id, '100', true), 'forbidden');
    const err = await expectKind(
      client.pushAccountState(
        id,
        { balance: 1, status: 'active', tvSuspended: false },
        { stateTimestamp: Date.now() },
      ),
      'forbidden',
    );
    expect(err.status).toBe(403);
    sim.faults.add({ kind: '403', count: 1 });
    await expectKind(client.listSubscriptions(), 'forbidden');
  });

  it('404, or a 400 whose text says not found, is not_found', async () => {
    await expectKind(client.accountSubscriptions('nobody'), 'not_found');
    await expectKind(client.setSubscription('nobody', '100', true), 'not_found');
    sim.faults.add({ kind: 'respond', status: 400, body: { error: 'User not found' }, count: 2 });
    await expectKind(client.accountSubscriptions('x'), 'not_found');
    expect(await client.getAccount('x')).toBeNull();
  });

  it('{} to a subscription switch is unknown_subscription', async () => {
    const { id } = await newAccount();
    await expectKind(client.setSubscription(id, '9999', true), 'unknown_subscription');
  });

  it('400 ValidationErrIsArchived is archived_subscription', async () => {
    const { id } = await newAccount();
    await expectKind(client.setSubscription(id, '5099', true), 'archived_subscription');
  });

  it('400 "Users exists and belongs to other provider" is foreign_username', async () => {
    sim.store.foreignUsernames.add('taken');
    await expectKind(client.createAccount({ username: 'taken', email: 'a@example.org' }), 'foreign_username');
  });

  it("any other 400 is bad_request, carrying the platform's text (v2 and v3 forms)", async () => {
    const v2 = await expectKind(
      client.createAccount({ username: 'op_x', email: 'UPPER@example.org' }),
      'bad_request',
    );
    expect(v2.message).toContain('email must be lower-case');
    expect(v2.status).toBe(400);
    const { id } = await newAccount();
    const v3 = await expectKind(
      client.pushAccountState(
        id,
        { balance: 1, status: 'active', tvSuspended: true },
        { stateTimestamp: Date.now() },
      ),
      'bad_request',
    );
    expect(v3.message).toContain("status can't be active");
  });

  it('an answer that is not JSON, or of the wrong shape, is protocol', async () => {
    sim.faults.add({ kind: 'respond', status: 200, body: '<html>gateway</html>', count: 1 });
    await expectKind(client.listSubscriptions(), 'protocol');
    sim.faults.add({ kind: 'respond', status: 200, body: { ok: 1 }, count: 1 });
    await expectKind(newAccount(), 'protocol');
    sim.faults.add({ kind: 'respond', status: 200, body: { accounts: 'many' }, count: 1 });
    await expectKind(client.listAccounts(0, 10), 'protocol');
    sim.faults.add({ kind: 'respond', status: 200, body: [{ name: 'no id' }], count: 1 });
    await expectKind(client.accountSubscriptions('x'), 'protocol');
    sim.faults.add({ kind: 'respond', status: 302, body: {}, count: 1 });
    await expectKind(client.listSubscriptions(), 'protocol');
  });

  it('counts calls, attempts and failures by kind', async () => {
    const before = client.stats();
    const { id } = await newAccount();
    await failure(client.setSubscription(id, '9999', true));
    await failure(client.setSubscription(id, '5099', true));
    const after = client.stats();
    expect(after.calls - before.calls).toBe(3);
    expect(after.attempts - before.attempts).toBe(3);
    expect(after.failures.unknown_subscription - before.failures.unknown_subscription).toBe(1);
    expect(after.failures.archived_subscription - before.failures.archived_subscription).toBe(1);
    expect(after.inFlight).toBe(0);
  });
});

describe('logging', () => {
  it('writes one debug line per call (method, path, status, ms) and never a body, password or email', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).trim().split('\n'));
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const logged = createPlatformClient({
      url: sim.url,
      concurrency: 2,
      timeoutMs: 2000,
      retries: 0,
      logger,
    });
    try {
      await logged.createAccount({
        username: 'op_log',
        email: 'private@example.org',
        password: 'sup3r-secret',
      });
      await logged.getAccount('op_log');
    } finally {
      await logged.close();
    }
    const calls = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'platform call');
    expect(calls).toEqual([
      expect.objectContaining({
        level: 20,
        method: 'POST',
        path: '/v2/accounts',
        status: 200,
        ms: expect.any(Number),
      }),
      expect.objectContaining({ level: 20, method: 'GET', path: '/v2/accounts/op_log', status: 200 }),
    ]);
    const all = lines.join('\n');
    expect(all).not.toContain('sup3r-secret');
    expect(all).not.toContain('private@example.org');
  });
});
