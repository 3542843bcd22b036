// Which Kafka topics carry the captured tables. Debezium names a table's topic
// `<topic.prefix>.<namespace>.<table>`, the namespace being the PostgreSQL schema or the
// MySQL/MariaDB database. One place, so that the consumer, `replay` and `migrate` agree.
import { CAPTURED_TABLES, type CapturedTable } from '../types.js';

export interface CaptureTopics {
  /** topic → the captured table it carries */
  tables: ReadonlyMap<string, CapturedTable>;
  /** PostgreSQL: the topic of the service's heartbeat table (lag gauge only); null on MySQL */
  heartbeat: string | null;
  /** every topic the consumer subscribes to */
  all: string[];
}

/**
 * @param prefix     `capture.kafka.topicPrefix` (Debezium's `topic.prefix`)
 * @param namespace  PostgreSQL schema of the billing tables, or the MySQL/MariaDB database
 * @param heartbeatTable PostgreSQL: `<state.tablePrefix>heartbeat`; null on MySQL/MariaDB
 */
export function captureTopics(
  prefix: string,
  namespace: string,
  heartbeatTable: string | null,
): CaptureTopics {
  const tables = new Map<string, CapturedTable>();
  for (const table of CAPTURED_TABLES) tables.set(`${prefix}.${namespace}.${table}`, table);
  const heartbeat = heartbeatTable ? `${prefix}.${namespace}.${heartbeatTable}` : null;
  return { tables, heartbeat, all: [...tables.keys(), ...(heartbeat ? [heartbeat] : [])] };
}

/** `topic/partition/offset`: how a change's position reads in park records and logs. */
export function positionOf(topic: string, partition: number, offset: string): string {
  return `${topic}/${partition}/${offset}`;
}
