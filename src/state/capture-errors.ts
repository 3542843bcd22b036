// Kafka messages the Debezium consumer could not read (<prefix>capture_errors, migration 005):
// the dead-letter record operators see in `doctor`. Written in the transaction that also queues
// the batch's accounts, keyed by topic/partition/offset, so a batch delivered again writes nothing
// new. No row content is kept (vgroups images hold subscribers' passwords): the message itself
// stays in Kafka for the topic's retention, at the recorded position.
import type { Knex } from 'knex';
import { debeziumNames } from '../../migrations/debezium/index.js';

export interface CaptureError {
  position: string;
  topic: string;
  partition: number;
  offset: string;
  vgId: number | null;
  error: string;
  messageKey: string | null;
  valueBytes: number | null;
  seenAt: Date;
}

export class CaptureErrors {
  readonly table: string;

  constructor(
    private readonly knex: Knex,
    prefix: string,
  ) {
    this.table = debeziumNames(prefix).captureErrors;
  }

  async record(db: Knex | Knex.Transaction, errors: Omit<CaptureError, 'seenAt'>[], at: Date): Promise<void> {
    if (errors.length === 0) return;
    const rows = errors.map((e) => ({
      position: e.position.slice(0, 320),
      topic: e.topic.slice(0, 249),
      kafka_partition: e.partition,
      kafka_offset: e.offset,
      vg_id: e.vgId,
      error: e.error.slice(0, 4000),
      message_key: e.messageKey?.slice(0, 255) ?? null,
      value_bytes: e.valueBytes,
      seen_at: at,
    }));
    await db(this.table).insert(rows).onConflict('position').ignore();
  }

  async count(): Promise<number> {
    const [row] = await this.knex(this.table).count({ n: '*' });
    return Number(row?.n ?? 0);
  }

  async latest(limit = 20): Promise<CaptureError[]> {
    const rows = await this.knex(this.table).orderBy('seen_at', 'desc').limit(limit);
    return rows.map((r) => ({
      position: String(r.position),
      topic: String(r.topic),
      partition: Number(r.kafka_partition),
      offset: String(r.kafka_offset),
      vgId: r.vg_id == null ? null : Number(r.vg_id),
      error: String(r.error),
      messageKey: r.message_key ?? null,
      valueBytes: r.value_bytes == null ? null : Number(r.value_bytes),
      seenAt: new Date(r.seen_at),
    }));
  }
}
