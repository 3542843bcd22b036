// Builds the long-lived parts from the configuration: the billing connection, the service's own
// store, the platform client and the reconciler. Commands take what they need and close it after.
import type { Knex } from 'knex';
import type { MigrationContext } from '../migrations/index.js';
import type { BillingClock } from './billing/clock.js';
import { billingZone, type ZoneFinding } from './billing/clock-discovery.js';
import { openBilling } from './billing/connect.js';
import { billingReader } from './billing/read.js';
import { reattachServices } from './billing/reattach.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { type PlatformStatus, watchPlatform } from './ops/platform-watch.js';
import { gatheredAccountSource, gatheredStateStore } from './reconcile/batching.js';
import { Reconciler } from './reconcile/reconciler.js';
import { createPlatformClient, type PlatformClient } from './smotreshka/client.js';
import { StateStore } from './state/store.js';

export interface App {
  config: Config;
  logger: Logger;
  knex: Knex;
  /** the billing's wall clock (billing.timeZone, or the database's own zone) */
  clock: BillingClock;
  /** where the clock's zone came from, or why it is unknown (doctor) */
  clockSource: string;
  store: StateStore;
  platform: PlatformClient;
  /** whether the platform answered the last call (for /health) */
  platformStatus(): PlatformStatus;
  reconciler: Reconciler;
  migration: MigrationContext;
  close(): Promise<void>;
}

export function openKnex(config: Config, extra = 0): Knex {
  const { min, max } = config.billing.pool;
  return openBilling(config.billing.client, config.billing.connection, { min, max: max + extra });
}

export function migrationContext(config: Config): MigrationContext {
  return {
    dialect: config.billing.client,
    prefix: config.state.tablePrefix,
    captureMode: config.capture.mode,
  };
}

/** A clock for an App whose billing zone could not be found: any use says why (doctor only). */
function unknownClock(why: string): BillingClock {
  const fail = (): never => {
    throw new Error(
      `the billing's time zone is unknown (${why}): set billing.timeZone or fix billing.connection`,
    );
  };
  return {
    zone: 'unknown',
    toWall: fail,
    fromWall: fail,
    instantOfWall: fail,
    offsetMinutes: fail,
    rfc3339: fail,
    calendarMonth: fail,
  };
}

/**
 * `extraConnections`: pool slots on top of billing.pool.max (`run`: reader, timers, health).
 * The billing's clock is found first (billing.timeZone, else asked of the database): nothing
 * reads or writes a billing DATETIME without it, so a database that can't be asked fails here,
 * unless `billingMayBeDown` (doctor, which reports it).
 */
export async function createApp(
  config: Config,
  logger: Logger,
  opts: { extraConnections?: number; billingMayBeDown?: boolean } = {},
): Promise<App> {
  const knex = openKnex(config, opts.extraConnections ?? 0);
  let zone: ZoneFinding;
  try {
    zone = await billingZone(config.billing, knex);
  } catch (err) {
    if (!opts.billingMayBeDown) {
      await knex.destroy();
      throw err;
    }
    const why = `cannot ask the database: ${(err as Error).message}`;
    zone = { clock: unknownClock(why), source: why };
  }
  const { clock } = zone;
  const store = new StateStore(knex, config.state.tablePrefix);
  const s = config.smotreshka;
  const watched = watchPlatform(
    createPlatformClient({
      url: s.url,
      concurrency: s.concurrency,
      timeoutMs: s.timeoutMs,
      retries: s.retries,
      logger,
    }),
  );
  const platform = watched.api;
  const reconciler = new Reconciler({
    // reconciles started together (the propagation queue's batch) share their reads and small
    // writes per event-loop turn; one at a time, nothing changes (src/reconcile/batching.ts)
    billing: gatheredAccountSource(billingReader(knex, clock)),
    store: gatheredStateStore(store),
    platform,
    options: {
      idMode: s.accountIdMode,
      usernamePrefix: s.usernamePrefix,
      emailTemplate: s.emailTemplate,
      platformChanges: s.platformChanges,
    },
    logger,
    reattach: async (vgId, at) => {
      const r = await reattachServices(knex, vgId, at, clock);
      return r !== null && (r.moved.length > 0 || r.closed.length > 0);
    },
  });
  return {
    config,
    logger,
    knex,
    clock,
    clockSource: zone.source,
    store,
    platform,
    platformStatus: watched.status,
    reconciler,
    migration: migrationContext(config),
    async close() {
      await platform.close();
      await knex.destroy();
    },
  };
}
