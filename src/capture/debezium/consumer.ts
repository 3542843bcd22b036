// Debezium capture: the Kafka consumer group feeding the same pipeline as the trigger mode.
//
//   Kafka batch (one partition) → decodeRecord → translate (→ affected vg_ids) →
//   one transaction: <prefix>pending upsert + <prefix>capture_errors → park named accounts →
//   resolve the batch's last offset (kafkajs commits it after the batch)
//
// Nothing is acknowledged before its accounts are durably queued: a crash anywhere before the
// resolve means the batch is delivered again, and queuing an account twice is harmless (the
// pending row coalesces, the reconcile is level-triggered). While the billing database can't be
// written, the partition is paused and retried with back-off: no batch is ever skipped because the
// database was down. A message that can't be read is not retried (it would block its partition
// for ever): it is recorded in <prefix>capture_errors with its topic/partition/offset, the account
// it names (if any) is parked with the error, and the partition goes on.
//
// A TRUNCATE of a captured table (op t) has no rows to say which accounts changed: every account
// the service has on the platform is queued again.
import type { Knex } from 'knex';
import type { Logger } from '../../log.js';
import type { CaptureErrors } from '../../state/capture-errors.js';
import type { PendingEntry, PendingStore } from '../../state/pending.js';
import type { StateStore } from '../../state/store.js';
import { prefetchFanout } from '../prefetch.js';
import { type Fanout, translate } from '../translate.js';
import type { ChangeEvent } from '../types.js';
import { type Decoded, decodeRecord, type StreamRecord } from './envelope.js';
import type { ChangeStream, StreamBatch } from './kafka.js';
import type { CaptureTopics } from './topics.js';

export interface ConsumerOptions {
  /** a newly queued account waits this long (config capture.debounceMs) */
  debounceMs: number;
  /** longest pause of a partition while the billing database can't be written */
  maxBackoffMs?: number;
}

export interface ConsumerStats {
  batches: number;
  changes: number;
  malformed: number;
  /** commit → arrival of the newest record seen, ms (Debezium's source time vs. this clock) */
  lastDelayMs: number | null;
  /** of that: commit → Kafka Connect produced the record (Debezium's share), ms */
  lastConnectDelayMs: number | null;
  lastRecordAt: Date | null;
  lastError: string | null;
  /** the last batch could not be queued: its partition is paused and retried */
  failing: boolean;
  assignment: Record<string, number[]>;
}

type Malformed = Extract<Decoded, { kind: 'malformed' }> & { record: StreamRecord };

const PAGE = 5_000;

export class DebeziumConsumer {
  private failures = 0;
  private readonly counters = {
    batches: 0,
    changes: 0,
    malformed: 0,
    lastDelayMs: null as number | null,
    lastConnectDelayMs: null as number | null,
    lastRecordAt: null as Date | null,
    lastError: null as string | null,
    failing: false,
  };
  private readonly resumes = new Set<NodeJS.Timeout>();

  constructor(
    private readonly deps: {
      stream: ChangeStream;
      knex: Knex;
      pending: PendingStore;
      store: StateStore;
      captureErrors: CaptureErrors;
      fanout: Fanout;
      topics: CaptureTopics;
      logger: Logger;
      /** accounts were queued (wakes the queue in this process) */
      onQueued: () => void;
      options: ConsumerOptions;
      now?: () => Date;
    },
  ) {}

  start(): Promise<void> {
    return this.deps.stream.start((batch) => this.handle(batch));
  }

  async stop(): Promise<void> {
    for (const t of this.resumes) clearTimeout(t);
    this.resumes.clear();
    await this.deps.stream.stop();
  }

  /** this member has joined the group and holds its share of the partitions */
  joined(): boolean {
    return this.deps.stream.joined();
  }

  stats(): ConsumerStats {
    return { ...this.counters, assignment: this.deps.stream.assignment() };
  }

  /** One partition's batch: queued and acknowledged as a whole, or left for another try. */
  async handle(batch: StreamBatch): Promise<void> {
    if (!batch.live() || batch.records.length === 0) return;
    const { logger } = this.deps;
    const now = this.deps.now?.() ?? new Date();
    const events: ChangeEvent[] = [];
    const malformed: Malformed[] = [];
    let truncated = false;
    for (const record of batch.records) {
      const d = decodeRecord(record, this.deps.topics);
      this.observe(d, record, now);
      if (d.kind === 'malformed') malformed.push({ ...d, record });
      else if (d.kind === 'change') {
        if (d.event.op === 'truncate') truncated = true;
        else events.push(d.event);
      }
    }

    let entries: PendingEntry[];
    try {
      // a batch can hold thousands of fan-out changes (a charging run): their lookups in parallel
      entries = await translate(events, await prefetchFanout(events, this.deps.fanout, now), now);
      if (truncated) entries.push(...(await this.everyKnownAccount(`${batch.topic}/${batch.partition}`)));
    } catch (err) {
      this.backOff(batch, err);
      return;
    }
    // fan-out reads can be slow on a big card or catalogue row: tell the group we're alive
    await batch.heartbeat();
    if (!batch.live()) return;

    try {
      await this.deps.knex.transaction(async (trx) => {
        await this.deps.pending.enqueue(trx, entries, now, this.deps.options.debounceMs);
        await this.deps.captureErrors.record(
          trx,
          malformed.map((m) => ({
            position: m.position,
            topic: m.record.topic,
            partition: m.record.partition,
            offset: m.record.offset,
            vgId: m.vgId,
            error: m.error,
            messageKey: m.record.key?.toString('utf8') ?? null,
            valueBytes: m.record.value?.length ?? null,
          })),
          now,
        );
      });
      for (const m of malformed) {
        logger.error(
          { position: m.position, vgId: m.vgId, err: m.error },
          'unreadable change message: recorded and skipped',
        );
        if (m.vgId !== null)
          await this.deps.store.park(
            m.vgId,
            'malformed_change',
            `${m.error} (Kafka message ${m.position})`,
            m.position,
          );
      }
    } catch (err) {
      this.backOff(batch, err);
      return;
    }

    if (!batch.live()) return; // the partition moved on (rebalance): its new owner reads the batch again
    batch.resolve(batch.records[batch.records.length - 1]!.offset);
    if (this.failures > 0)
      logger.info({ after: this.failures }, 'billing database writable again: consuming');
    this.failures = 0;
    this.counters.failing = false;
    this.counters.batches++;
    this.counters.changes += events.length;
    this.counters.malformed += malformed.length;
    if (entries.length > 0) {
      logger.debug(
        {
          topic: batch.topic,
          partition: batch.partition,
          changes: batch.records.length,
          accounts: entries.length,
        },
        'changes queued',
      );
      this.deps.onQueued();
    }
  }

  private observe(d: Decoded, record: StreamRecord, now: Date): void {
    const sourceTs =
      d.kind === 'change'
        ? (d.event.committedAt?.getTime() ?? null)
        : d.kind === 'ignored'
          ? d.sourceTs
          : null;
    this.counters.lastRecordAt = now;
    if (sourceTs === null) return;
    this.counters.lastDelayMs = Math.max(0, now.getTime() - sourceTs);
    if (Number.isFinite(record.timestamp))
      this.counters.lastConnectDelayMs = Math.max(0, record.timestamp - sourceTs);
  }

  /** The batch stays unacknowledged; its partition pauses and is fetched again after a back-off. */
  private backOff(batch: StreamBatch, err: unknown): void {
    this.failures++;
    const delay = Math.min(this.deps.options.maxBackoffMs ?? 30_000, 250 * 2 ** Math.min(this.failures, 10));
    const message = (err as Error)?.message ?? String(err);
    this.counters.lastError = message;
    this.counters.failing = true;
    const log =
      this.failures === 1 || this.failures % 10 === 0
        ? this.deps.logger.warn.bind(this.deps.logger)
        : this.deps.logger.debug.bind(this.deps.logger);
    log(
      { topic: batch.topic, partition: batch.partition, err: message, retryInMs: delay },
      'cannot queue the changes (billing database?): partition paused, retrying',
    );
    const resume = batch.pause();
    const t = setTimeout(() => {
      this.resumes.delete(t);
      resume();
    }, delay);
    this.resumes.add(t);
  }

  /** A truncated table names no rows: every account the platform knows through us is looked at again. */
  private async everyKnownAccount(source: string): Promise<PendingEntry[]> {
    const out: PendingEntry[] = [];
    let after = 0;
    for (;;) {
      const rows = await this.deps
        .knex(this.deps.store.accounts)
        .select('vg_id')
        .where('vg_id', '>', after)
        .orderBy('vg_id')
        .limit(PAGE);
      for (const r of rows) out.push({ vgId: Number(r.vg_id), reason: 'truncate', source });
      if (rows.length < PAGE) return out;
      after = Number(rows[rows.length - 1]!.vg_id);
    }
  }
}
