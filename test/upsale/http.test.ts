// The HTTP surface: callers outside upsale.allow get 403 before any database query (through
// inject and over a real socket), malformed requests get a clear 4xx JSON error and write nothing,
// and the OpenAPI description is served.
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UPSALE_PREFIX } from '../../src/upsale/routes.js';
import { buildUpsaleServer } from '../../src/upsale/server.js';
import { DIALECTS } from '../support/db.js';
import {
  A,
  call,
  depsFor,
  loginOf,
  pathOf,
  servicesFingerprint,
  txId,
  type UpsaleFixture,
  upsaleFixture,
} from './support.js';

describe.each(DIALECTS)('upsale HTTP on %s', (dialect) => {
  let f: UpsaleFixture;
  let queries = 0;
  const countQuery = () => {
    queries++;
  };
  beforeAll(async () => {
    f = await upsaleFixture(dialect, 'upshttp');
    f.knex.on('query', countQuery);
  });
  afterAll(async () => {
    f?.knex.off('query', countQuery);
    await f?.close();
  });

  const valid = () => ({
    accountLogin: loginOf(A.svcFuture.vgId),
    newOfferId: '5011',
    qsTransactionId: txId(),
  });
  const url = (endpoint: Parameters<typeof pathOf>[0], q: Record<string, string>) =>
    `${pathOf(endpoint)}?${new URLSearchParams(q).toString()}`;

  it('a caller outside upsale.allow gets 403 and nothing is read from the database', async () => {
    const before = queries;
    for (const remoteAddress of ['192.0.2.10', '::ffff:192.0.2.10', '2001:db8::5']) {
      for (const endpoint of ['add/ensure', 'add/commit', 'replace/ensure', 'replace/commit'] as const) {
        const r = await call(
          f.app,
          endpoint,
          { ...valid(), oldOfferId: '100' },
          { clientIp: '1.2.3.4' },
          remoteAddress,
        );
        expect(r).toEqual({
          status: 403,
          body: { error: 'forbidden', message: expect.stringContaining('upsale.allow') },
        });
      }
    }
    // even a body far over the limit: the address is checked first
    const big = await f.app.inject({
      method: 'POST',
      url: url('add/commit', valid()),
      remoteAddress: '192.0.2.10',
      payload: JSON.stringify({ userInfo: { x: 'y'.repeat(100_000) } }),
      headers: { 'content-type': 'application/json' },
    });
    expect(big.statusCode).toBe(403);
    const doc = await f.app.inject({
      method: 'GET',
      url: `${UPSALE_PREFIX}/openapi.json`,
      remoteAddress: '192.0.2.10',
    });
    expect(doc.statusCode).toBe(403);
    expect(queries - before).toBe(0);
    // and an allowed caller does reach the billing: the counter counts
    expect((await call(f.app, 'add/ensure', valid(), undefined, '::ffff:127.0.0.1')).status).toBe(200);
    expect(queries).toBeGreaterThan(before);
  });

  it('over a real socket: 403 for an address outside the list, 200 for an allowed one', async () => {
    const strangerOnly = await buildUpsaleServer(depsFor(f.knex, { allow: ['10.0.0.0/8'] }));
    const localOk = await buildUpsaleServer(depsFor(f.knex));
    try {
      const denyAt = await strangerOnly.listen({ host: '127.0.0.1', port: 0 });
      const okAt = await localOk.listen({ host: '127.0.0.1', port: 0 });
      const before = queries;
      const denied = await fetch(`${denyAt}${url('add/ensure', valid())}`, { method: 'POST' });
      expect(denied.status).toBe(403);
      expect(await denied.json()).toMatchObject({ error: 'forbidden' });
      expect(queries - before).toBe(0);
      const ok = await fetch(`${okAt}${url('add/ensure', valid())}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          newOfferName: 'Детский',
          clientIp: '203.0.113.9',
          deviceInfo: { model: 'TV' },
        }),
      });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ result: 'operation_ensured' });
    } finally {
      await strangerOnly.close();
      await localOk.close();
    }
  });

  it('4xx with a JSON {error, message} for malformed requests, and nothing written', async () => {
    const print = await servicesFingerprint(f.knex);
    const q = valid();
    const bad: [string, InjectOptions, number, string][] = [
      [
        'no account',
        { method: 'POST', url: url('add/commit', { newOfferId: '5011', qsTransactionId: txId() }) },
        400,
        'invalid_request',
      ],
      [
        'no offer',
        { method: 'POST', url: url('add/commit', { accountLogin: q.accountLogin, qsTransactionId: txId() }) },
        400,
        'invalid_request',
      ],
      [
        'no transaction id',
        { method: 'POST', url: url('add/commit', { accountLogin: q.accountLogin, newOfferId: '5011' }) },
        400,
        'invalid_request',
      ],
      [
        'replace without oldOfferId',
        { method: 'POST', url: url('replace/commit', q) },
        400,
        'invalid_request',
      ],
      [
        'trialDays not a number',
        { method: 'POST', url: url('add/commit', { ...q, trialDays: '1e3' }) },
        400,
        'invalid_request',
      ],
      [
        'negative trialDays',
        { method: 'POST', url: url('add/commit', { ...q, trialDays: '-1' }) },
        400,
        'invalid_request',
      ],
      [
        'offer id with SQL',
        { method: 'POST', url: url('add/commit', { ...q, newOfferId: "5011' OR '1'='1" }) },
        400,
        'invalid_request',
      ],
      [
        'transaction id too long',
        { method: 'POST', url: url('add/commit', { ...q, qsTransactionId: 'x'.repeat(129) }) },
        400,
        'invalid_request',
      ],
      [
        'a parameter given twice',
        { method: 'POST', url: `${url('add/commit', q)}&newOfferId=5012` },
        400,
        'invalid_request',
      ],
      [
        'body not JSON',
        {
          method: 'POST',
          url: url('add/commit', q),
          payload: '{"newOfferName":',
          headers: { 'content-type': 'application/json' },
        },
        400,
        'invalid_request',
      ],
      [
        'body a JSON array',
        {
          method: 'POST',
          url: url('add/commit', q),
          payload: '[1,2]',
          headers: { 'content-type': 'application/json' },
        },
        400,
        'invalid_request',
      ],
      [
        'userInfo a string',
        { method: 'POST', url: url('add/commit', q), payload: { userInfo: 'me' } },
        400,
        'invalid_request',
      ],
      [
        'body too large',
        { method: 'POST', url: url('add/commit', q), payload: { appInfo: { pad: 'x'.repeat(17_000) } } },
        413,
        'payload_too_large',
      ],
      [
        'body not JSON typed',
        {
          method: 'POST',
          url: url('add/commit', q),
          payload: 'hello',
          headers: { 'content-type': 'text/plain' },
        },
        415,
        'unsupported_media_type',
      ],
      [
        'unknown endpoint',
        { method: 'POST', url: `${UPSALE_PREFIX}/remove-subscription/commit` },
        404,
        'not_found',
      ],
      ['GET on a POST endpoint', { method: 'GET', url: url('add/commit', q) }, 404, 'not_found'],
    ];
    for (const [what, req, status, error] of bad) {
      const res = await f.app.inject({ remoteAddress: '127.0.0.1', ...req });
      expect({ what, status: res.statusCode }).toEqual({ what, status });
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json()).toEqual({ error, message: expect.any(String) });
    }
    expect(await servicesFingerprint(f.knex)).toBe(print);
  });

  it('an empty body, whatever its declared type, is no context; unknown context fields are ignored', async () => {
    for (const headers of [
      { 'content-type': 'application/json' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      {},
    ]) {
      const res = await f.app.inject({
        method: 'POST',
        url: url('add/ensure', valid()),
        remoteAddress: '127.0.0.1',
        payload: '',
        headers,
      });
      expect(res.statusCode).toBe(200);
    }
    const r = await call(f.app, 'add/ensure', valid(), {
      newOfferName: null,
      futureField: { a: 1 },
      userInfo: { id: 7 },
    });
    expect(r.body).toMatchObject({ result: 'operation_ensured' });
  });

  it('serves the OpenAPI description of the four endpoints', async () => {
    const res = await f.app.inject({
      method: 'GET',
      url: `${UPSALE_PREFIX}/openapi.json`,
      remoteAddress: '127.0.0.1',
    });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as {
      openapi: string;
      paths: Record<
        string,
        { post: { parameters: { name: string; required: boolean }[]; responses: Record<string, unknown> } }
      >;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        'add-subscription/commit',
        'add-subscription/ensure',
        'replace-subscription/commit',
        'replace-subscription/ensure',
      ].map((p) => `${UPSALE_PREFIX}/${p}`),
    );
    const commitParams = doc.paths[`${UPSALE_PREFIX}/replace-subscription/commit`]!.post.parameters.map(
      (p) => p.name,
    ).sort();
    expect(commitParams).toEqual([
      'accountId',
      'accountLogin',
      'billingTransactionId',
      'newOfferId',
      'oldOfferId',
      'qsTransactionId',
      'serviceStartTimestamp',
      'trialDays',
    ]);
    // a commit needs its ensure: billingTransactionId required, 404 and 409 described
    for (const kind of ['add', 'replace']) {
      const commit = doc.paths[`${UPSALE_PREFIX}/${kind}-subscription/commit`]!.post;
      expect(commit.parameters.find((p) => p.name === 'billingTransactionId')?.required).toBe(true);
      expect(Object.keys(commit.responses)).toEqual(
        expect.arrayContaining(['200', '400', '403', '404', '409']),
      );
      const ensure = doc.paths[`${UPSALE_PREFIX}/${kind}-subscription/ensure`]!.post;
      expect(Object.keys(ensure.responses)).toContain('409');
      expect(Object.keys(ensure.responses)).not.toContain('404');
    }
  });

  it('a sale over a real socket: ensure, commit, a repeat, a reuse (409) and a commit never ensured (404)', async () => {
    const server = await buildUpsaleServer(depsFor(f.knex));
    try {
      const at = await server.listen({ host: '127.0.0.1', port: 0 });
      const post = async (endpoint: Parameters<typeof pathOf>[0], q: Record<string, string>) => {
        const r = await fetch(`${at}${url(endpoint, q)}`, { method: 'POST' });
        return { status: r.status, body: (await r.json()) as Record<string, unknown> };
      };
      const q = {
        accountLogin: loginOf(A.inetMulti.vgId),
        newOfferId: '5012',
        qsTransactionId: txId('sock'),
      };
      const ensured = await post('add/ensure', q);
      expect(ensured).toEqual({
        status: 200,
        body: { result: 'operation_ensured', billingTransactionId: expect.any(String) },
      });
      const billingTransactionId = ensured.body.billingTransactionId as string;
      const committed = await post('add/commit', { ...q, billingTransactionId });
      expect(committed).toEqual({
        status: 200,
        body: {
          result: 'operation_commited',
          billingTransactionId,
          billingStartTimestamp: expect.any(String),
        },
      });
      expect(await post('add/commit', { ...q, billingTransactionId })).toEqual(committed);
      const rows = await f.knex('services').where({ external_data: `lifestream:qs=${q.qsTransactionId}` });
      expect(rows.map((r) => [r.vg_id, r.tar_id, r.serv_cat_idx])).toEqual([[A.inetMulti.vgId, 30, 6]]);

      const print = await servicesFingerprint(f.knex);
      expect(
        await post('add/commit', { ...q, accountLogin: loginOf(A.svcBasic.vgId), billingTransactionId }),
      ).toEqual({
        status: 409,
        body: { error: 'transaction_conflict', message: expect.any(String), mismatch: ['account'] },
      });
      expect(await post('add/commit', { ...q, qsTransactionId: txId('none'), billingTransactionId })).toEqual(
        {
          status: 404,
          body: { error: 'unknown_transaction', message: expect.any(String) },
        },
      );
      expect(await servicesFingerprint(f.knex)).toBe(print);
    } finally {
      await server.close();
    }
  });
});
