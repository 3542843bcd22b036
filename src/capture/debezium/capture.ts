// The debezium side of `run`: the consumer group and the per-account locks, wired to the pending
// table every instance shares. Unlike trigger capture (one reader, on the leader), this runs on
// every instance: Kafka splits the partitions among the group's members, and the queue of each
// instance reconciles an account only under its cross-instance lock. Leader-only work (timers, the
// platform scan) stays with the leader lock in service.ts.
import { missingDebeziumObjects } from '../../../migrations/debezium/index.js';
import { binlogFiles, binlogPosition } from '../../../migrations/debezium/mysql.js';
import { slotRetention } from '../../../migrations/debezium/pg.js';
import type { App } from '../../app.js';
import { billingReader } from '../../billing/read.js';
import type { Logger } from '../../log.js';
import { AccountLocks } from '../../state/account-lock.js';
import { CaptureErrors } from '../../state/capture-errors.js';
import type { PendingStore } from '../../state/pending.js';
import { ConnectClient } from './connect.js';
import { billingFacts, connectorName, connectorPlan, scrub } from './connector.js';
import { type ConsumerStats, DebeziumConsumer } from './consumer.js';
import { topicPartitions, topicsFor } from './install.js';
import { createChangeStream, createStreamAdmin } from './kafka.js';
import { ConnectorWatch, type WatchSnapshot } from './watch.js';

/** A record older than this says nothing about the lag any more (a quiet partition, or not ours). */
const LAG_WINDOW_MS = 5 * 60_000;

/** What `run` refuses to start without in debezium mode; null when ready. */
export async function debeziumNotReady(app: App): Promise<string | null> {
  const missing = await missingDebeziumObjects(app.knex, app.migration);
  if (missing.length === 0) return null;
  return `debezium capture is not installed (missing: ${missing.join(', ')}): run \`lbcore-lifestream migrate\` with capture.mode: debezium`;
}

/** Debezium's own heartbeat topic (`topic.heartbeat.prefix` left at its default). */
export const debeziumHeartbeatTopic = (topicPrefix: string) => `__debezium-heartbeat.${topicPrefix}`;

/** The heartbeat is stale after three of its intervals, and never sooner than 15 s. */
export function heartbeatStaleMs(settings: Record<string, string>): number {
  const interval = Number(settings.HEARTBEAT_INTERVAL_MS ?? 10_000);
  return Math.max(15_000, 3 * (Number.isFinite(interval) && interval > 0 ? interval : 10_000));
}

export interface CaptureStatus {
  problems: string[];
  detail: { consuming: boolean; connector: WatchSnapshot };
}

export class DebeziumCapture {
  private constructor(
    readonly consumer: DebeziumConsumer,
    readonly locks: AccountLocks,
    readonly topics: string[],
    readonly watch: ConnectorWatch,
    private readonly groupId: string,
  ) {}

  static async create(
    app: App,
    deps: { pending: PendingStore; logger: Logger; onQueued: () => void; isLeader: () => boolean },
  ): Promise<DebeziumCapture> {
    const { config, knex, store } = app;
    const topics = await topicsFor(config, knex);
    const facts = await billingFacts(knex, config.billing.client);
    const plan = connectorPlan(config, facts);
    const connect = config.capture.connect;
    const watch = new ConnectorWatch({
      connect: new ConnectClient(connect.url, 10_000),
      name: connectorName(config, facts),
      admin: createStreamAdmin(config.capture.kafka, deps.logger),
      // Debezium's own heartbeat topic, and on PostgreSQL the heartbeat table's (through the WAL)
      heartbeatTopics: [
        debeziumHeartbeatTopic(config.capture.kafka.topicPrefix),
        ...(topics.heartbeat ? [topics.heartbeat] : []),
      ],
      staleMs: heartbeatStaleMs(connect.settings),
      intervalMs: connect.watchIntervalMs,
      // several instances: one restarts, the others report
      mayRestart: deps.isLeader,
      slotRetention: facts.kind === 'postgres' ? (slot) => slotRetention(knex, slot) : undefined,
      binlogFiles: facts.kind === 'postgres' ? undefined : () => binlogFiles(knex),
      binlogPosition: facts.kind === 'postgres' ? undefined : () => binlogPosition(knex),
      warnRetainedBytes: connect.retainedWalWarnMb * 2 ** 20,
      logger: deps.logger.child({ component: 'connector-watch' }),
      scrub: (text) => scrub(text, plan.secrets),
    });
    const k = config.capture.kafka;
    const stream = createChangeStream(
      k,
      {
        groupId: k.groupId,
        topics: topics.all,
        sessionTimeoutMs: k.sessionTimeoutMs,
        concurrency: Math.min(topics.all.length, 4),
      },
      deps.logger,
    );
    const consumer = new DebeziumConsumer({
      stream,
      knex,
      pending: deps.pending,
      store,
      captureErrors: new CaptureErrors(knex, app.migration.prefix),
      fanout: billingReader(knex, app.clock),
      topics,
      logger: deps.logger,
      onQueued: deps.onQueued,
      options: { debounceMs: config.capture.debounceMs },
    });
    // a lock and its release are one quick statement each, but on one session they queue behind
    // each other: a session per four reconciles in flight keeps that wait off the latency
    const locks = new AccountLocks({
      client: config.billing.client,
      connection: config.billing.connection,
      prefix: app.migration.prefix,
      sessions: Math.max(2, Math.ceil(config.queue.concurrency / 4)),
    });
    return new DebeziumCapture(consumer, locks, topics.all, watch, k.groupId);
  }

  /** Makes sure the topics exist (deleted since `migrate`?), then joins the group. */
  async start(app: App, logger: Logger): Promise<void> {
    const admin = createStreamAdmin(app.config.capture.kafka, logger);
    try {
      const made = await admin.ensureTopics(this.topics, topicPartitions(app.config));
      if (made.length) logger.warn({ topics: made }, 'capture topics were missing: created');
    } catch (err) {
      // Kafka down at start: the consumer keeps trying to join; nothing to do here
      logger.warn({ err: (err as Error).message }, 'cannot check the capture topics');
    } finally {
      await admin.close();
    }
    await this.locks
      .open()
      .catch((err: Error) => logger.warn({ err: err.message }, 'cannot open the account-lock sessions yet'));
    this.watch.start();
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    await this.watch.stop();
    await this.consumer.stop();
  }

  /** For /health: the connector watch's problems, and whether this member consumes yet. */
  status(): CaptureStatus {
    const consuming = this.consumer.joined();
    const connector = this.watch.snapshot();
    const problems = [...connector.problems];
    if (!consuming) problems.push(`not consuming yet: joining the consumer group "${this.groupId}"`);
    return { problems, detail: { consuming, connector } };
  }

  /** Closes the lock sessions: only after the queue has stopped using them. */
  async close(): Promise<void> {
    await this.locks.close();
  }

  stats(): ConsumerStats {
    return this.consumer.stats();
  }

  /** commit → arrival of the newest record, while it is recent enough to mean something */
  lagMs(): number | null {
    const s = this.consumer.stats();
    if (!s.lastRecordAt || Date.now() - s.lastRecordAt.getTime() > LAG_WINDOW_MS) return null;
    return s.lastDelayMs;
  }
}
