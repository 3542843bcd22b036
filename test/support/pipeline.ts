// The whole propagation pipeline in-process for integration tests: a fresh billing database with
// the LANBilling schema and the sample data, the simulator on a free port, `migrate`, an initial
// `sync --all` (so that changes then produce only their own calls), and the service started as
// `run` would start it (without the HTTP server unless asked). With `billingZone` the billing's
// clock is in that zone (billing-clock.ts): the sample is written as its wall clock, and the
// test writes through `billing.writer` as the billing itself would.
import type { Knex } from 'knex';
import { type App, createApp } from '../../src/app.js';
import { type BillingClock, UTC_CLOCK } from '../../src/billing/clock.js';
import type { Dialect } from '../../src/billing/connect.js';
import { type Config, parseConfig } from '../../src/config.js';
import { type Logger, silentLogger } from '../../src/log.js';
import { syncAll } from '../../src/reconcile/sync.js';
import { type RunningService, startService } from '../../src/service.js';
import { type Simulator, startSimulator } from '../../src/smotreshka/simulator/index.js';
import { migrateUp } from '../../src/state/migrate.js';
import { registerUpsaleRoutes, upsaleDepsFromConfig } from '../../src/upsale/routes.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample } from '../fixture/sample.js';
import { billingNow, setBillingClock } from './billing-clock.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { type ChangeCall, changeCalls, lastSeq } from './platform-calls.js';

export const USERNAME_PREFIX = 'op_';

export interface Pipeline {
  db: TestDatabase;
  sim: Simulator;
  app: App;
  service: RunningService;
  config: Config;
  /** the billing as its own application sees it: its clock, its sessions, its SQL for "now" */
  billing: { clock: BillingClock; writer: Knex; now(seconds?: number): Knex.Raw };
  /** the simulator's seq now: pass to callsSince() */
  mark(): number;
  callsSince(seq: number): ChangeCall[];
  /** waits until `check` holds (polling), or fails naming what was awaited */
  waitFor<T>(
    what: string,
    check: () => T | null | undefined | false | Promise<T | null | undefined | false>,
    timeoutMs?: number,
  ): Promise<T>;
  /** platform subscriptions of a login, sorted; null when the platform has no such account */
  subscriptionsOf(login: string): string[] | null;
  /** restarts the service on the same database and simulator (the App stays) */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface PipelineOptions {
  /** a database the caller prepared, schema and sample loaded (another server, its own users) */
  database?: TestDatabase;
  /** extra config on top of the test defaults */
  config?: Record<string, unknown>;
  /** skip the initial sync --all */
  noInitialSync?: boolean;
  logger?: Logger;
  listen?: string | false;
  /** serve the upsale endpoints too, as `run` does (needs `listen`) */
  upsale?: boolean;
  /** the billing's clock (an IANA zone without DST on MariaDB); default UTC */
  billingZone?: string;
}

export function testConfig(
  dialect: Dialect,
  billingUrl: string,
  platformUrl: string,
  extra: Record<string, unknown> = {},
): Config {
  const e = extra as Record<string, Record<string, unknown> | undefined>;
  return parseConfig({
    ...extra,
    billing: { client: dialect, connection: billingUrl, ...e.billing },
    smotreshka: {
      url: platformUrl,
      usernamePrefix: USERNAME_PREFIX,
      retries: 1,
      timeoutMs: 3_000,
      ...e.smotreshka,
    },
    capture: { pollIntervalMs: 200, ...e.capture },
    queue: { retryMaxDelayMs: 2_000, circuitMaxPauseMs: 2_000, shutdownGraceMs: 2_000, ...e.queue },
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startPipeline(
  dialect: Dialect,
  label: string,
  opts: PipelineOptions = {},
): Promise<Pipeline> {
  const db = opts.database ?? (await createTestDatabase(dialect, label));
  const zoned = opts.billingZone ? await setBillingClock(db, opts.billingZone) : null;
  const billing = zoned
    ? { clock: zoned.clock, writer: zoned.writer, now: zoned.now }
    : { clock: UTC_CLOCK, writer: db.knex, now: (s = 0) => billingNow(db.knex, dialect, s) };
  if (!opts.database) {
    await createLanbillingSchema(db.knex, dialect);
    await loadSample(db.knex, dialect, new Date(), billing.clock);
  }
  const sim = await startSimulator({ port: 0 });
  const extra = opts.config ?? {};
  const config = testConfig(dialect, db.url, sim.url, {
    ...extra,
    billing: { ...zoned?.config, ...(extra.billing as Record<string, unknown> | undefined) },
  });
  const logger = opts.logger ?? silentLogger;
  const app = await createApp(config, logger, { extraConnections: 4 });
  await migrateUp(app.knex, app.migration);
  if (!opts.noInitialSync) await syncAll(app.reconciler, { dryRun: false, concurrency: 8 });
  const serviceOptions = {
    listen: opts.listen ?? false,
    standbyRetryMs: 200,
    routes: opts.upsale
      ? [
          (server: Parameters<typeof registerUpsaleRoutes>[0]) =>
            registerUpsaleRoutes(server, upsaleDepsFromConfig(config, app.knex, logger, app.clock)),
        ]
      : [],
  };
  let service = await startService(app, serviceOptions);

  const waitFor: Pipeline['waitFor'] = async (what, check, timeoutMs = 10_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
      await sleep(25);
    }
  };

  return {
    db,
    sim,
    app,
    get service() {
      return service;
    },
    config,
    billing,
    mark: () => lastSeq(sim),
    callsSince: (seq) => changeCalls(sim, seq),
    waitFor,
    subscriptionsOf(login) {
      const acc = sim.store.byName(`${USERNAME_PREFIX}${login}`);
      return acc ? [...acc.subscriptions].sort() : null;
    },
    async restart() {
      await service.stop();
      service = await startService(app, serviceOptions);
    },
    async stop() {
      await service?.stop().catch(() => undefined);
      await app?.close().catch(() => undefined);
      await sim?.close().catch(() => undefined);
      await (zoned ? zoned.close() : db.drop()).catch(() => undefined);
    },
  };
}
