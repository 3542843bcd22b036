// `run`: the service. Propagates billing changes to the platform (trigger capture, queue, timers)
// and serves HTTP (/health, the upsale endpoints) until SIGTERM/SIGINT. On a signal it stops taking
// work, gives reconciles in flight queue.shutdownGraceMs to finish, and exits; whatever was queued
// stays in <prefix>pending for the next start. A second signal exits at once (still nothing lost:
// the queue is in the database).
import type { Command } from 'commander';
import { createApp } from '../app.js';
import { redactUrl } from '../config.js';
import { NotReadyError, startService } from '../service.js';
import { registerUpsaleRoutes, upsaleDepsFromConfig } from '../upsale/routes.js';
import { configAndLogger } from './common.js';

/** Pool slots beyond billing.pool.max: the change-log reader's transaction, its fan-out, timers, /health. */
const EXTRA_CONNECTIONS = 4;

function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export function registerRun(program: Command) {
  program
    .command('run')
    .description(
      'propagate billing changes to the platform (trigger or Debezium capture, per-account queue, timers) and serve HTTP ' +
        '(/health, /metrics, /upsale/v3/...) until SIGTERM/SIGINT; in debezium mode it also watches the connector on ' +
        'Kafka Connect (unhealthy when it fails or its heartbeat stops; the leader restarts failed tasks); needs `migrate` first',
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const { config, logger } = configAndLogger(cmd);
      // listening before start, so that a signal during start-up still stops cleanly once started
      const signalled = nextSignal();
      const app = await createApp(config, logger, { extraConnections: EXTRA_CONNECTIONS });
      logger.info({ zone: app.clock.zone, from: app.clockSource }, "the billing's clock");
      let service: Awaited<ReturnType<typeof startService>>;
      try {
        service = await startService(app, {
          routes: [
            (server) =>
              registerUpsaleRoutes(server, upsaleDepsFromConfig(config, app.knex, logger, app.clock)),
          ],
        });
      } catch (err) {
        await app.close();
        if (err instanceof NotReadyError) {
          process.stderr.write(`lbcore-lifestream: ${err.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
      logger.info(
        { billing: redactUrl(config.billing.connection), platform: config.smotreshka.url, http: service.url },
        'running',
      );

      const signal = await signalled;
      logger.info(
        { signal },
        'stopping: no new work, letting reconciles in flight finish (signal again to quit at once)',
      );
      void nextSignal().then(() => {
        logger.warn('quitting at once; queued accounts stay queued');
        process.exit(130);
      });
      await service.stop();
      await app.close();
      logger.flush?.();
      // Everything is stopped and closed, so the process ends by itself, unless a library left a
      // socket open: kafkajs can, after a broker restart (src/capture/debezium/kafka.ts). Then
      // exit anyway; the timer is unref'd, so it never delays a process that ends by itself.
      setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
    });
}
