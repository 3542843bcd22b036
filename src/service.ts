// `run` as a library: trigger capture, the propagation queue, the timers and the HTTP server on one
// App, started in order and stopped in reverse. The command (src/commands/run.ts), the demo, the
// tests and the benchmark all start the service through here.
//
//   billing commit ─ triggers → <prefix>changes ─ adaptive poll → ChangeLogReader ─┐
//                                                                translate+enqueue ▼
//   timers (next_at) ──────────────────────────────────────────────────→ <prefix>pending
//                                                    PropagationQueue ─ reconcile ─→ platform
//
// Only the instance holding the leader lock (src/state/leader.ts) reads, times and reconciles; a
// second instance serves /health (role "standby") and takes over when the first goes away.
//
// In debezium mode (src/capture/debezium/capture.ts) every instance consumes its share of the
// Kafka partitions into the same <prefix>pending table and reconciles from it, each account under
// a cross-instance lock; the leader lock then only decides who runs the timers and the platform scan.
import type { FastifyInstance } from 'fastify';
import { describeInspection, inspectTriggerCapture } from '../migrations/capture/index.js';
import type { App } from './app.js';
import { billingReader } from './billing/read.js';
import { DebeziumCapture, debeziumNotReady } from './capture/debezium/capture.js';
import { registerDebeziumMetrics } from './capture/debezium/metrics.js';
import { triggerCaptureProblems } from './capture/triggers/checks.js';
import { ChangeLogReader } from './capture/triggers/reader.js';
import { CaptureWatch } from './capture/triggers/watch.js';
import { checkHealth, type HealthReport, healthRoutes } from './ops/health.js';
import { createMetrics, metricsRoutes } from './ops/metrics.js';
import { platformScanDeps, startPlatformScan } from './reconcile/platform-scan.js';
import { PropagationQueue } from './reconcile/queue.js';
import { TimerLoop } from './reconcile/timers.js';
import { buildServer, listen, type RoutePlugin } from './server.js';
import { ChangeLog } from './state/changelog.js';
import { LeaderLock } from './state/leader.js';
import { migrationStatus } from './state/migrate.js';
import { PendingStore } from './state/pending.js';

/** A reason `run` can't start that the operator fixes (exit code 2, one clear line). */
export class NotReadyError extends Error {
  override name = 'NotReadyError';
}

export interface ServiceOptions {
  /** host:port instead of config.listen (tests: port 0); false = no HTTP server */
  listen?: string | false;
  /** route plugins besides /health (upsale, metrics) */
  routes?: RoutePlugin[];
  /** how often a standby instance tries to take the leader lock (default 2 s) */
  standbyRetryMs?: number;
}

export interface RunningService {
  /** base URL of the HTTP server, null without one */
  url: string | null;
  role(): 'active' | 'standby';
  health(): Promise<HealthReport>;
  queue: PropagationQueue;
  reader: ChangeLogReader;
  pending: PendingStore;
  changelog: ChangeLog;
  /** debezium mode: this instance's consumer and per-account locks; null in trigger mode */
  debezium: DebeziumCapture | null;
  /** stops taking work, lets in-flight reconciles finish (config.queue.shutdownGraceMs), closes the server */
  stop(): Promise<void>;
}

/** Refuses to start on a database `migrate` hasn't prepared for the configured capture mode. */
export async function preflight(app: App): Promise<void> {
  const { config, knex, migration } = app;
  const status = await migrationStatus(knex, migration);
  if (status.pending.length > 0) {
    throw new NotReadyError(
      `the billing database lacks the service's objects (pending migrations: ${status.pending.join(', ')}): run \`lbcore-lifestream migrate\` first`,
    );
  }
  if (config.capture.mode === 'debezium') {
    const why = await debeziumNotReady(app);
    if (why) throw new NotReadyError(why);
    return;
  }
  const problems = describeInspection(await inspectTriggerCapture(knex, migration), migration);
  if (problems.length > 0) {
    throw new NotReadyError(
      `trigger capture is not ready (${problems.join('; ')}): run \`lbcore-lifestream migrate\` with capture.mode: triggers`,
    );
  }
}

export async function startService(app: App, opts: ServiceOptions = {}): Promise<RunningService> {
  await preflight(app);
  const { config, knex, logger, store, reconciler, migration } = app;
  const log = logger.child({ component: 'propagation' });
  const startedAt = new Date();
  const pending = new PendingStore(knex, migration.prefix, migration.dialect);
  const changelog = new ChangeLog(knex, migration.prefix, migration.dialect);
  // debezium mode: this instance's share of the partitions, and the per-account locks its queue takes
  const debezium =
    config.capture.mode === 'debezium'
      ? await DebeziumCapture.create(app, {
          pending,
          logger: log,
          onQueued: () => queue.wakeAt(Date.now() + config.capture.debounceMs),
          isLeader: () => role === 'active',
        })
      : null;

  let timers: TimerLoop;
  const q = config.queue;
  const queue = new PropagationQueue({
    pending,
    // a recovery run is a `sync` of the account: the billing wins over platform-side switch-offs
    reconcile: (vgId, source, { recovering }) =>
      reconciler.reconcile(vgId, { source, purpose: recovering ? 'recover' : 'propagate' }),
    park: (vgId, reason, detail, source) => store.park(vgId, reason, detail, source),
    logger: log,
    options: {
      concurrency: q.concurrency,
      hotIntervalMs: q.hotAccountIntervalMs,
      retryMinMs: 500,
      retryMaxMs: q.retryMaxDelayMs,
      circuitFailures: q.circuitFailures,
      circuitMaxPauseMs: q.circuitMaxPauseMs,
      pollMs: 1_000,
    },
    onReconciled: (outcome) => timers.consider(outcome.record?.nextAt ?? null),
    claim: debezium ? (vgIds) => debezium.locks.tryLockMany(vgIds) : undefined,
  });
  timers = new TimerLoop({ pending, store, logger: log, onQueued: () => queue.wake() });
  const reader = new ChangeLogReader({
    knex,
    changelog,
    pending,
    fanout: billingReader(knex, app.clock),
    logger: log,
    // the accounts it queued come due after the debounce
    onQueued: () => queue.wakeAt(Date.now() + config.capture.debounceMs),
    options: {
      batchSize: config.capture.batchSize,
      pollIntervalMs: config.capture.pollIntervalMs,
      debounceMs: config.capture.debounceMs,
    },
  });
  // trigger mode: a trigger a LANBilling upgrade dropped (or a dropped definer) is an error in the
  // log every minute and a problem on /health until `migrate` restores it
  const watch = debezium
    ? null
    : new CaptureWatch({ check: () => triggerCaptureProblems(knex, migration), logger: log });

  // the platform scan writes into the billing: like the queue, only the leader runs it
  let platformScan: { stop(): Promise<void> } | null = null;
  let role: 'active' | 'standby' = 'standby';
  let stopping = false;
  let retry: NodeJS.Timeout | null = null;
  let announcedStandby = false;

  const activate = () => {
    role = 'active';
    announcedStandby = false;
    if (!debezium) reader.start();
    timers.start();
    queue.start();
    platformScan = startPlatformScan(
      platformScanDeps(config, {
        knex,
        clock: app.clock,
        store,
        platform: app.platform,
        logger: logger.child({ component: 'platform-scan' }),
      }),
    );
    log.info(
      { capture: config.capture.mode, concurrency: q.concurrency },
      debezium ? 'leading: timers and platform scan' : 'propagating billing changes',
    );
  };
  const deactivate = async () => {
    role = 'standby';
    await platformScan?.stop();
    platformScan = null;
    await reader.stop();
    await timers.stop();
    // debezium mode: every instance's queue works, leader or not; it stops only with the service
    const unfinished = debezium && !stopping ? 0 : await queue.stop(q.shutdownGraceMs);
    if (unfinished > 0)
      log.warn({ unfinished }, 'reconciles still running were left; their accounts stay queued');
  };
  const leader: LeaderLock = new LeaderLock({
    client: migration.dialect,
    connection: config.billing.connection,
    name: `${migration.prefix}run`,
    logger: log,
    onLost: () => {
      void deactivate().then(() => scheduleLead(0));
    },
  });
  const scheduleLead = (ms: number) => {
    if (stopping) return;
    retry = setTimeout(() => void lead(), ms);
  };
  const lead = async () => {
    retry = null;
    if (stopping) return;
    try {
      if (await leader.tryAcquire()) {
        if (stopping) return;
        activate();
        return;
      }
      if (!announcedStandby) log.info('another instance is propagating this billing database; standing by');
      announcedStandby = true;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot take the leader lock; retrying');
    }
    scheduleLead(opts.standbyRetryMs ?? 2_000);
  };

  const health = () =>
    checkHealth({
      pingBilling: async () => {
        await knex.raw('SELECT 1');
      },
      captureLagMs: async () => (debezium ? debezium.lagMs() : changelog.lagMs()),
      pendingCount: () => pending.count(),
      parkedCount: async () => (await store.parkedIds()).size,
      platform: app.platformStatus,
      role: () => role,
      captureMode: config.capture.mode,
      captureStatus: debezium ? () => debezium.status() : undefined,
      captureProblems: () => watch?.problems() ?? [],
      startedAt,
    });

  let server: FastifyInstance | null = null;
  let url: string | null = null;
  const where = opts.listen === undefined ? config.listen : opts.listen;
  if (where !== false) {
    const metrics = createMetrics({
      health,
      platformStats: () => app.platform.stats(),
      reconcileStats: () => app.reconciler.stats,
      register: debezium ? (registry) => registerDebeziumMetrics(registry, debezium) : undefined,
    });
    server = await buildServer({
      logger,
      routes: [healthRoutes(health), metricsRoutes(metrics), ...(opts.routes ?? [])],
    });
    url = await listen(server, where);
    log.info({ url }, 'HTTP server listening');
  }
  if (debezium) {
    queue.start();
    await debezium.start(app, log);
    log.info(
      { capture: 'debezium', groupId: config.capture.kafka.groupId, concurrency: q.concurrency },
      'consuming billing changes',
    );
  }
  watch?.start();
  await lead();

  return {
    get url() {
      return url;
    },
    role: () => role,
    health,
    queue,
    reader,
    pending,
    changelog,
    debezium,
    async stop() {
      stopping = true;
      if (retry) clearTimeout(retry);
      // no new upsale writes or probes while the rest winds down; in-flight requests finish
      await server?.close();
      // debezium: leave the group first; what it read is queued or left unacknowledged for the others
      await debezium?.stop();
      if (role === 'active') await deactivate();
      else if (debezium) await queue.stop(q.shutdownGraceMs);
      await debezium?.close();
      await watch?.stop();
      await leader.release();
      log.info('stopped');
    },
  };
}
