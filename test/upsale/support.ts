// A billing database with the sample data and the service's own tables, and the upsale server on
// it, for the upsale tests. Requests go through fastify's inject (no socket) unless a test listens.
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { type BillingClock, UTC_CLOCK } from '../../src/billing/clock.js';
import type { Dialect } from '../../src/billing/connect.js';
import { billingReader } from '../../src/billing/read.js';
import type { AssignedService } from '../../src/billing/types.js';
import { silentLogger } from '../../src/log.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { migrateUp } from '../../src/state/migrate.js';
import type { UpsaleDeps } from '../../src/upsale/routes.js';
import { buildUpsaleServer } from '../../src/upsale/server.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

export const PREFIX = 'tv-';
export const DESIRED = { usernamePrefix: PREFIX, emailTemplate: '{username}@op.users-mail.lfstrm.tv' };
export const A = SAMPLE.accounts;

export interface UpsaleFixture {
  db: TestDatabase;
  knex: Knex;
  app: FastifyInstance;
  deps: UpsaleDeps;
  close(): Promise<void>;
}

export function depsFor(knex: Knex, patch: Partial<UpsaleDeps> = {}): UpsaleDeps {
  return {
    knex,
    clock: UTC_CLOCK,
    logger: silentLogger,
    allow: ['127.0.0.1/32', '::1/128'],
    maxBodyBytes: 16_384,
    serviceComment: 'Smotreshka upsale',
    tablePrefix: 'lifestream_',
    ...DESIRED,
    ...patch,
  };
}

export async function upsaleFixture(
  dialect: Dialect,
  label: string,
  patch: Partial<UpsaleDeps> = {},
): Promise<UpsaleFixture> {
  const db = await createTestDatabase(dialect, label);
  await createLanbillingSchema(db.knex, dialect);
  await loadSample(db.knex, dialect, new Date());
  await migrateUp(db.knex, { dialect, prefix: 'lifestream_', captureMode: 'triggers' });
  const deps = depsFor(db.knex, patch);
  const app = await buildUpsaleServer(deps);
  return {
    db,
    knex: db.knex,
    app,
    deps,
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

export type Endpoint = 'add/ensure' | 'add/commit' | 'replace/ensure' | 'replace/commit';

export function pathOf(endpoint: Endpoint): string {
  const [kind, step] = endpoint.split('/');
  return `/upsale/v3/${kind}-subscription/${step}`;
}

export async function call(
  app: FastifyInstance,
  endpoint: Endpoint,
  query: Record<string, string | number | undefined>,
  body?: unknown,
  remoteAddress = '127.0.0.1',
) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.append(k, String(v));
  const res = await app.inject({
    method: 'POST',
    url: `${pathOf(endpoint)}?${qs.toString()}`,
    remoteAddress,
    ...(body === undefined
      ? {}
      : { payload: body as object, headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

/** The account's name as the platform sends it. */
export const loginOf = (vgId: number) => {
  const a = Object.values(A).find((x) => x.vgId === vgId);
  if (!a) throw new Error(`no sample account ${vgId}`);
  return `${PREFIX}${a.login}`;
};

let seq = 0;
export const txId = (label = 'qs') => `${label}-${process.pid}-${Date.now()}-${++seq}`;

/** What the platform should have for the account now, by the core's own rules. */
export async function subscriptionsOf(
  knex: Knex,
  vgId: number,
  at = new Date(),
  clock: BillingClock = UTC_CLOCK,
): Promise<string[]> {
  const account = await billingReader(knex, clock).loadAccount(vgId, at);
  return account ? desiredState(account, at, DESIRED).subscriptions : [];
}

/** Basic rows in force at `at` (desiredState would hide a second one: it picks a winner). */
export async function basicsInForce(
  knex: Knex,
  vgId: number,
  at = new Date(),
  clock: BillingClock = UTC_CLOCK,
): Promise<AssignedService[]> {
  const account = await billingReader(knex, clock).loadAccount(vgId, at);
  if (!account) return [];
  return account.services.filter(
    (s) =>
      s.serviceType === 0 &&
      desiredState({ ...account, services: [s] }, at, DESIRED).subscriptions.length > 0,
  );
}

export async function servicesRows(knex: Knex, vgId?: number): Promise<Record<string, unknown>[]> {
  const q = knex('services').select('*').orderBy('service_id');
  return vgId === undefined ? q : q.where({ vg_id: vgId });
}

/** Every services row's id and end: any insert or close shows up as a different string. */
export async function servicesFingerprint(knex: Knex): Promise<string> {
  const rows = await knex('services').select('service_id', 'timeto').orderBy('service_id');
  return JSON.stringify(rows.map((r) => [r.service_id, new Date(r.timeto).getTime()]));
}

export async function journalRow(knex: Knex, qs: string): Promise<Record<string, unknown> | undefined> {
  return knex('lifestream_upsale').where({ qs_transaction_id: qs }).first();
}
