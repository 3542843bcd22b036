// Debezium messages as the connectors of connectors/ write them (JSON converter, schemas off),
// taken from the smoke test's output on PostgreSQL 15 and MariaDB 10.11 (connectors/README.md),
// with the database and prefix names replaced. One per kind the consumer must handle.
import type { StreamRecord } from '../../../src/capture/debezium/envelope.js';

export const PG_SOURCE = {
  version: '3.6.1.Final',
  connector: 'postgresql',
  name: 'lanbilling',
  ts_ms: 1795637358784,
  snapshot: 'false',
  db: 'billing',
  sequence: '["320298024","320298024"]',
  ts_us: 1795637358784770,
  ts_ns: 1795637358784770000,
  schema: 'public',
  table: 'services',
  txId: 1233,
  lsn: 320298024,
  xmin: null,
  origin: null,
  origin_lsn: null,
};

export const MARIADB_SOURCE = {
  version: '3.5.0.Final',
  connector: 'mariadb',
  name: 'lanbilling',
  ts_ms: 1795637371000,
  snapshot: 'false',
  db: 'billing',
  sequence: null,
  ts_us: 1795637371000000,
  ts_ns: 1795637371000000000,
  table: 'services',
  server_id: 1,
  gtid: '0-1-255',
  file: 'mariadb-bin.000001',
  pos: 90473269,
  row: 0,
  thread: null,
  query: null,
};

export const SERVICE_BEFORE = {
  service_id: 10,
  vg_id: 1,
  tar_id: 5,
  serv_cat_idx: 2,
  mul: '12345678901234.123456',
  timefrom: '2026-03-01T00:00:00Z',
  timeto: '9999-12-31T23:59:59Z',
  state: 1,
  external_data: 'smoke',
  created: '2026-11-25T20:09:18.778411Z',
};
export const SERVICE_AFTER = { ...SERVICE_BEFORE, timeto: '2026-04-01T00:00:00Z', state: 3 };

const tail = { transaction: null, ts_ms: 1795637359202, ts_us: 1795637359202759, ts_ns: 1795637359202759200 };

/** The value of a message: an envelope with `op` and images. */
export function envelope(
  op: string,
  before: object | null,
  after: object | null,
  source: object = PG_SOURCE,
): string {
  return JSON.stringify({ before, after, source, op, ...tail });
}

export function record(
  topic: string,
  key: object | string | null,
  value: string | null,
  offset = '7',
  partition = 0,
): StreamRecord {
  return {
    topic,
    partition,
    offset,
    key: key === null ? null : Buffer.from(typeof key === 'string' ? key : JSON.stringify(key)),
    value: value === null ? null : Buffer.from(value),
    timestamp: 1795637359300,
  };
}

/** `schemas.enable=true` on the worker: the same envelope wrapped in {schema, payload}. */
export function withSchema(value: string): string {
  return JSON.stringify({
    schema: { type: 'struct', fields: [], optional: false, name: 'lanbilling.public.services.Envelope' },
    payload: JSON.parse(value),
  });
}
