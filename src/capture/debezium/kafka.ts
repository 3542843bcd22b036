// The only file that knows kafkajs (2.2.4, unmaintained since 2023): the consumer group behind
// `ChangeStream` and the admin calls behind `StreamAdmin`. Moving to @platformatic/kafka or
// @confluentinc/kafka-javascript means rewriting this file and nothing else.
//
// At least once: kafkajs runs with eachBatchAutoResolve off, so an offset moves only when the
// handler resolves it; kafkajs fetches the next batch of a partition from the last resolved
// offset, so a batch the handler leaves unresolved is fetched again, and it commits resolved
// offsets after each batch and on a rebalance. A consumer that crashes on a non-retriable error
// (kafkajs then gives up on it) is replaced by a fresh one after a back-off.
import { type Admin, type Consumer, Kafka, type LogEntry, logLevel } from 'kafkajs';
import type { Logger } from '../../log.js';
import type { StreamRecord } from './envelope.js';

/** One partition's batch; `resolve` marks records up to an offset as durably handled. */
export interface StreamBatch {
  topic: string;
  partition: number;
  records: StreamRecord[];
  resolve(offset: string): void;
  /** tells the group this member is alive: call between slow steps */
  heartbeat(): Promise<void>;
  /** false once the stream stops or the partition was taken away (rebalance, seek): drop the batch */
  live(): boolean;
  /** stops fetching this partition; call the returned function to fetch it again */
  pause(): () => void;
}

export type BatchHandler = (batch: StreamBatch) => Promise<void>;

export interface ChangeStream {
  /** joins the group and hands every batch to `onBatch`; resolves once consuming has started */
  start(onBatch: BatchHandler): Promise<void>;
  /** finishes the batch in hand, commits resolved offsets and leaves the group */
  stop(): Promise<void>;
  /** all subscribed topics: stop / restart fetching */
  pause(): void;
  resume(): void;
  /** the partitions this member holds now, by topic */
  assignment(): Record<string, number[]>;
  /** true once this member has joined the group and got its share (maybe none) of the partitions */
  joined(): boolean;
}

export interface StreamOptions {
  groupId: string;
  topics: string[];
  sessionTimeoutMs: number;
  /** partitions handled at once (each still one batch at a time, in order) */
  concurrency?: number;
  /** a new group starts at the topics' beginning, so nothing streamed before the first `run` is skipped */
  fromBeginning?: boolean;
}

export interface PartitionOffsets {
  partition: number;
  /** first offset still in the log */
  low: string;
  /** the offset the next message will get */
  high: string;
}

export interface GroupMembers {
  state: string;
  members: { clientId: string; host: string }[];
}

export interface StreamAdmin {
  /** creates those of `topics` that don't exist; returns the names created */
  ensureTopics(topics: string[], partitions: number): Promise<string[]>;
  existingTopics(): Promise<Set<string>>;
  group(groupId: string): Promise<GroupMembers>;
  /** the group's committed offsets; null where it has none */
  committed(groupId: string, topic: string): Promise<Map<number, string | null>>;
  offsets(topic: string): Promise<PartitionOffsets[]>;
  /** per partition, the first offset whose record is at or after `timestampMs` (the high watermark if none) */
  offsetsAt(topic: string, timestampMs: number): Promise<Map<number, string>>;
  setOffsets(groupId: string, topic: string, offsets: Map<number, string>): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
}

/** kafkajs log lines into the service's logger; its routine errors while a broker restarts are warnings. */
function logCreator(logger: Logger) {
  const log = logger.child({ component: 'kafka' });
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...extra } = entry;
      if (level <= logLevel.WARN) log.warn(extra, `kafkajs: ${message}`);
      else if (level === logLevel.INFO) log.debug(extra, `kafkajs: ${message}`);
    };
}

function client(settings: KafkaSettings, logger: Logger): Kafka {
  // kafkajs warns once per process about its partitioner: the service produces nothing
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    logLevel: logLevel.WARN,
    logCreator: logCreator(logger),
    // a broker restart takes 15-30 s: keep retrying the connection rather than crashing the consumer
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 10 },
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** longest wait for the group coordinator when leaving */
const LEAVE_TIMEOUT_MS = 10_000;

class KafkajsStream implements ChangeStream {
  private consumer: Consumer | null = null;
  private onBatch: BatchHandler | null = null;
  private stopped = true;
  private held: Record<string, number[]> = {};
  private member = false;
  private crashes = 0;
  private replacing: Promise<void> | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: StreamOptions,
    private readonly logger: Logger,
  ) {}

  async start(onBatch: BatchHandler): Promise<void> {
    this.onBatch = onBatch;
    this.stopped = false;
    try {
      await this.open();
    } catch (err) {
      // Kafka down at start: keep trying in the background; the rest of the service runs meanwhile
      this.logger.warn({ err: (err as Error).message }, 'cannot join the consumer group yet; retrying');
      if (this.consumer) this.replace(this.consumer);
    }
  }

  private async open(): Promise<void> {
    const { opts } = this;
    const consumer = this.kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs,
      heartbeatInterval: Math.max(500, Math.min(3_000, Math.floor(opts.sessionTimeoutMs / 10))),
      rebalanceTimeout: Math.max(opts.sessionTimeoutMs, 30_000),
      maxWaitTimeInMs: 500,
      // topics are made by `migrate` and at start with the partitions the operator chose
      allowAutoTopicCreation: false,
      // kafkajs restarts a consumer after a retriable crash on a timer that can outlive our stop()
      retry: { retries: 10, maxRetryTime: 5_000, restartOnFailure: async () => !this.stopped },
    });
    // kafkajs can outlive its disconnect(): after a broker restart, work of a consumer it restarted
    // reconnected once disconnect() had returned (a batch's heartbeat opened a socket to the old
    // coordinator, and `run` stopped but never exited). A consumer that joins or fetches once it is
    // no longer ours is disconnected again; `run` also exits once it has stopped (commands/run.ts).
    const zombie = () => {
      if (!this.stopped && this.consumer === consumer) return false;
      void consumer.disconnect().catch(() => undefined);
      return true;
    };
    consumer.on(consumer.events.FETCH_START, () => zombie());
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      if (zombie()) return;
      this.held = { ...e.payload.memberAssignment };
      this.member = true;
      this.crashes = 0;
      this.logger.info({ groupId: opts.groupId, assignment: this.held }, 'joined the consumer group');
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.held = {};
      this.member = false;
      const { error, restart } = e.payload;
      this.logger.warn({ err: error.message, restart }, 'Kafka consumer crashed');
      // kafkajs restarts by itself after a retriable error; after any other it is done for good
      if (!restart && !this.stopped) this.replace(consumer);
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning ?? true });
    await consumer.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: opts.concurrency ?? 1,
      eachBatch: async (p) => {
        const { batch } = p;
        const records: StreamRecord[] = batch.messages.map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key,
          value: m.value,
          timestamp: Number(m.timestamp),
        }));
        await this.onBatch!({
          topic: batch.topic,
          partition: batch.partition,
          records,
          resolve: (offset) => p.resolveOffset(offset),
          heartbeat: () => p.heartbeat(),
          live: () => !this.stopped && p.isRunning() && !p.isStale(),
          pause: () => p.pause(),
        });
      },
    });
  }

  /** A consumer kafkajs gave up on: a new one after a back-off, until stop(). */
  private replace(dead: Consumer): void {
    if (this.replacing) return;
    this.replacing = (async () => {
      this.crashes++;
      const delay = Math.min(30_000, 1_000 * 2 ** Math.min(this.crashes - 1, 5));
      await dead.disconnect().catch(() => undefined);
      while (!this.stopped) {
        await sleep(delay);
        if (this.stopped) break;
        try {
          await this.open();
          this.logger.info('Kafka consumer started again');
          break;
        } catch (err) {
          this.logger.warn(
            { err: (err as Error).message, retryInMs: delay },
            'Kafka consumer cannot start; retrying',
          );
          await this.consumer?.disconnect().catch(() => undefined);
        }
      }
    })().finally(() => {
      this.replacing = null;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.replacing;
    const consumer = this.consumer;
    this.consumer = null;
    this.held = {};
    this.member = false;
    if (!consumer) return;
    // Leaving the group only spares the others the session timeout; a coordinator that doesn't
    // answer (a broker restarting) must not hold the shutdown for kafkajs's minutes of retries.
    let timer: NodeJS.Timeout | undefined;
    const left = await Promise.race([
      consumer.disconnect().then(
        () => true,
        (err: Error) => {
          this.logger.warn({ err: err.message }, 'leaving the consumer group failed');
          return true;
        },
      ),
      new Promise<false>((r) => {
        timer = setTimeout(() => r(false), LEAVE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!left)
      this.logger.warn(
        { afterMs: LEAVE_TIMEOUT_MS },
        'the consumer group did not answer the leave: the others take over after the session timeout',
      );
  }

  pause(): void {
    this.consumer?.pause(this.opts.topics.map((topic) => ({ topic })));
  }

  resume(): void {
    this.consumer?.resume(this.opts.topics.map((topic) => ({ topic })));
  }

  assignment(): Record<string, number[]> {
    return { ...this.held };
  }

  joined(): boolean {
    return this.member;
  }
}

class KafkajsAdmin implements StreamAdmin {
  private connected: Promise<void> | null = null;

  constructor(private readonly admin: Admin) {}

  private ready(): Promise<void> {
    this.connected ??= this.admin.connect();
    return this.connected;
  }

  async ensureTopics(topics: string[], partitions: number): Promise<string[]> {
    await this.ready();
    const existing = await this.existingTopics();
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length === 0) return [];
    await this.admin.createTopics({
      topics: missing.map((topic) => ({ topic, numPartitions: partitions })),
      waitForLeaders: true,
    });
    return missing;
  }

  async existingTopics(): Promise<Set<string>> {
    await this.ready();
    return new Set(await this.admin.listTopics());
  }

  async group(groupId: string): Promise<GroupMembers> {
    await this.ready();
    const { groups } = await this.admin.describeGroups([groupId]);
    const g = groups[0];
    return {
      state: g?.state ?? 'Unknown',
      members: (g?.members ?? []).map((m) => ({ clientId: m.clientId, host: m.clientHost })),
    };
  }

  async committed(groupId: string, topic: string): Promise<Map<number, string | null>> {
    await this.ready();
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((entry?.partitions ?? []).map((p) => [p.partition, p.offset === '-1' ? null : p.offset]));
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    await this.ready();
    const list = await this.admin.fetchTopicOffsets(topic);
    return list
      .map((p) => ({ partition: p.partition, low: p.low, high: p.high }))
      .sort((a, b) => a.partition - b.partition);
  }

  async offsetsAt(topic: string, timestampMs: number): Promise<Map<number, string>> {
    await this.ready();
    const list = await this.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    return new Map(list.map((p) => [p.partition, p.offset]));
  }

  async setOffsets(groupId: string, topic: string, offsets: Map<number, string>): Promise<void> {
    await this.ready();
    await this.admin.setOffsets({
      groupId,
      topic,
      partitions: [...offsets].map(([partition, offset]) => ({ partition, offset })),
    });
  }

  async close(): Promise<void> {
    if (this.connected) await this.admin.disconnect().catch(() => undefined);
    this.connected = null;
  }
}

export function createChangeStream(
  settings: KafkaSettings,
  opts: StreamOptions,
  logger: Logger,
): ChangeStream {
  return new KafkajsStream(client(settings, logger), opts, logger);
}

export function createStreamAdmin(settings: KafkaSettings, logger: Logger): StreamAdmin {
  return new KafkajsAdmin(client(settings, logger).admin());
}
