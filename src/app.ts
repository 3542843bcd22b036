// Builds the long-lived parts from the configuration: the billing connection, the service's own
// store, the platform client and the reconciler. Commands take what they need and close it after.
import type { Knex } from 'knex';
import { openBilling } from './billing/connect.js';
import { billingReader } from './billing/read.js';
import { reattachServices } from './billing/reattach.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { gatheredAccountSource, gatheredStateStore } from './reconcile/batching.js';
import { Reconciler } from './reconcile/reconciler.js';
import { createPlatformClient, type PlatformClient } from './smotreshka/client.js';
import { StateStore } from './state/store.js';
import { type PlatformStatus, watchPlatform } from './ops/platform-watch.js';
import type { MigrationContext } from '../migrations/index.js';

export interface App {
  config: Config;
  logger: Logger;
  knex: Knex;
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

/** `extraConnections`: pool slots on top of billing.pool.max (`run`: reader, timers, health). */
export function createApp(config: Config, logger: Logger, opts: { extraConnections?: number } = {}): App {
  const knex = openKnex(config, opts.extraConnections ?? 0);
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
    billing: gatheredAccountSource(billingReader(knex)),
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
      const r = await reattachServices(knex, vgId, at);
      return r !== null && (r.moved.length > 0 || r.closed.length > 0);
    },
  });
  return {
    config,
    logger,
    knex,
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
