// Debezium's change messages → ChangeEvent. Pure: no Kafka, no database.
//
// The connectors of connectors/ write the envelope itself as the message value (JSON converter,
// `schemas.enable=false`): {before, after, source, op, ts_ms, ...}. What arrives on a captured
// topic, and what becomes of it:
//
//   op c (insert), u (update), d (delete), r (snapshot read) → a ChangeEvent with the row images
//   op t (truncate: no images)                               → a ChangeEvent `truncate`; the
//                                                              consumer re-queues the known accounts
//   op m (a logical-decoding message, not a row)             → ignored
//   null value (the tombstone after a delete)                → ignored: the `d` before it carried
//                                                              the row. A primary-key change is
//                                                              d + tombstone + c: two events, both
//                                                              naming the account
//   the service's heartbeat table (PostgreSQL)               → ignored, its time kept as a lag gauge
//   anything else (not JSON, not an envelope, an op we don't know, images that aren't objects)
//                                                            → malformed: the consumer records it
//                                                              and parks its account when the
//                                                              message names one
//
// A value in the `{schema, payload}` form (a worker whose converter has schemas enabled) is
// unwrapped rather than refused: same envelope, one level down.
//
// DATETIMEs arrive as the billing's wall clock with a Z appended (connectors/README.md). A zero
// date ('0000-00-00 00:00:00', "not set") arrives as null from a nullable column and as the epoch
// ("1970-01-01T00:00:00Z") from a NOT NULL one (the MySQL/MariaDB connectors' rule), and
// PostgreSQL's -infinity (the zero date of the translated schema) as "-infinity" or a date far
// before the year 1000: in the images these all become null, "not set", as the read model has it.
import type { CapturedTable, ChangeEvent } from '../types.js';
import { type CaptureTopics, positionOf } from './topics.js';

/** One Kafka record as the consumer hands it over (kafka.ts). */
export interface StreamRecord {
  topic: string;
  partition: number;
  /** int64 as a decimal string */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** the record's timestamp, ms since epoch (Debezium: when Connect produced it) */
  timestamp: number;
}

export type Decoded =
  | { kind: 'change'; event: ChangeEvent }
  | { kind: 'ignored'; why: 'tombstone' | 'heartbeat' | 'message'; sourceTs: number | null }
  | { kind: 'malformed'; error: string; vgId: number | null; position: string };

const OPS: Record<string, ChangeEvent['op'] | 'message'> = {
  c: 'insert',
  u: 'update',
  d: 'delete',
  r: 'snapshot',
  t: 'truncate',
  m: 'message',
};

type Row = Record<string, unknown>;

const isObject = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJson(buf: Buffer): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(buf.toString('utf8')) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** A positive safe integer from a JSON value (a number or its decimal string), else null. */
function vgIdOf(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** The account a broken message is about, when any part of it still says: images first, then the key. */
function attribute(value: unknown, key: unknown): number | null {
  const envelope = isObject(value) && isObject(value.payload) ? value.payload : value;
  if (isObject(envelope)) {
    for (const image of [envelope.after, envelope.before]) {
      if (isObject(image)) {
        const id = vgIdOf(image.vg_id);
        if (id !== null) return id;
      }
    }
  }
  return isObject(key) ? vgIdOf(key.vg_id) : null;
}

function sourceTime(envelope: Row): number | null {
  const source = envelope.source;
  const ts = isObject(source) && typeof source.ts_ms === 'number' ? source.ts_ms : envelope.ts_ms;
  return typeof ts === 'number' && Number.isFinite(ts) ? ts : null;
}

/** Decodes one record of a topic in `topics` (the consumer subscribes to nothing else). */
export function decodeRecord(rec: StreamRecord, topics: CaptureTopics): Decoded {
  const position = positionOf(rec.topic, rec.partition, rec.offset);
  if (rec.value === null) return { kind: 'ignored', why: 'tombstone', sourceTs: null };

  const parsedKey = rec.key ? parseJson(rec.key) : null;
  const key = parsedKey?.ok ? parsedKey.value : null;
  const malformed = (error: string, value: unknown = null): Decoded => ({
    kind: 'malformed',
    error,
    vgId: attribute(value, key),
    position,
  });

  const parsed = parseJson(rec.value);
  if (!parsed.ok) return malformed(`the message value is not JSON (${parsed.error})`);
  let envelope = parsed.value;
  if (isObject(envelope) && isObject(envelope.payload) && 'schema' in envelope) envelope = envelope.payload;
  if (!isObject(envelope))
    return malformed(`the message value is not a Debezium envelope (a JSON ${jsonType(envelope)})`);

  const sourceTs = sourceTime(envelope);
  if (rec.topic === topics.heartbeat) return { kind: 'ignored', why: 'heartbeat', sourceTs };

  const table = topics.tables.get(rec.topic);
  if (!table) return malformed(`topic "${rec.topic}" is not a captured table's topic`, envelope);

  const op = typeof envelope.op === 'string' ? OPS[envelope.op] : undefined;
  if (op === undefined) {
    return malformed(
      'op' in envelope
        ? `unknown Debezium op ${JSON.stringify(envelope.op)}`
        : 'no "op": not a Debezium change envelope',
      envelope,
    );
  }
  if (op === 'message') return { kind: 'ignored', why: 'message', sourceTs };

  const { before, after } = envelope;
  if (before !== null && before !== undefined && !isObject(before))
    return malformed('"before" is not a row object', envelope);
  if (after !== null && after !== undefined && !isObject(after))
    return malformed('"after" is not a row object', envelope);
  const needs: Record<ChangeEvent['op'], 'before' | 'after' | null> = {
    insert: 'after',
    snapshot: 'after',
    update: 'after',
    delete: 'before',
    truncate: null,
  };
  const needed = needs[op];
  if (needed && !isObject(envelope[needed]))
    return malformed(`op "${String(envelope.op)}" without the "${needed}" row image`, envelope);

  return {
    kind: 'change',
    event: {
      table,
      op,
      before: isObject(before) ? withUnsetDates(table, before) : null,
      after: isObject(after) ? withUnsetDates(table, after) : null,
      position,
      committedAt: sourceTs === null ? null : new Date(sourceTs),
    },
  };
}

/** The captured tables' DATETIME columns that LANBilling leaves at the zero date when not set. */
const DATETIME_COLUMNS: Partial<Record<CapturedTable, readonly string[]>> = {
  services: ['timefrom', 'timeto', 'activated'],
  multitarifs: ['dtfrom', 'dtto'],
  vgroups: ['acc_ondate', 'acc_offdate', 'block_date', 'creation_date'],
};

/** A DATETIME value of an image that stands for the zero date. */
function unsetDate(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  if (v === '1970-01-01T00:00:00Z' || /^-?infinity$/i.test(v) || v.startsWith('0000-00-00')) return true;
  const year = /^([+-]?\d+)-/.exec(v)?.[1];
  return year !== undefined && (year.startsWith('-') || Number(year) < 1000);
}

/** The image with its zero dates as null (a new object only when something changed). */
export function withUnsetDates(table: CapturedTable, image: Row): Row {
  const columns = DATETIME_COLUMNS[table];
  if (!columns?.some((c) => unsetDate(image[c]))) return image;
  const out = { ...image };
  for (const c of columns) if (unsetDate(out[c])) out[c] = null;
  return out;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
