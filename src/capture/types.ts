// What both capture modes (triggers + change log, Debezium + Kafka) hand to the shared pipeline.

/** The LANBilling tables whose row changes can change what the platform should have. */
export const CAPTURED_TABLES = ['vgroups', 'services', 'agreements', 'accounts', 'service_categories', 'multitarifs'] as const;
export type CapturedTable = (typeof CAPTURED_TABLES)[number];

/** One row change, whatever captured it. Row images use the database's column names. */
export interface ChangeEvent {
  table: CapturedTable;
  op: 'insert' | 'update' | 'delete' | 'snapshot' | 'truncate';
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  /** opaque and source-specific: change-log id, or topic/partition/offset; kept for audit and parking */
  position: string;
  /** when the change was committed (or captured), when the source knows it */
  committedAt: Date | null;
}
