// The Debezium envelope decoder: every op kind, tombstones, key changes, heartbeats, and every way a
// message can be broken, each with its position and, when the message still names one, its account.
import { describe, expect, it } from 'vitest';
import { decodeRecord } from '../../../src/capture/debezium/envelope.js';
import { captureTopics } from '../../../src/capture/debezium/topics.js';
import {
  envelope,
  MARIADB_SOURCE,
  PG_SOURCE,
  record,
  SERVICE_AFTER,
  SERVICE_BEFORE,
  withSchema,
} from './fixtures.js';

const PG = captureTopics('lanbilling', 'public', 'lifestream_heartbeat');
const MDB = captureTopics('lanbilling', 'billing', null);
const SERVICES = 'lanbilling.public.services';
const VGROUPS = 'lanbilling.public.vgroups';
const KEY = { service_id: 10 };

describe('captureTopics', () => {
  it('names a topic per captured table under the prefix and namespace, plus the PostgreSQL heartbeat', () => {
    expect(PG.all).toEqual([
      'lanbilling.public.vgroups',
      'lanbilling.public.services',
      'lanbilling.public.agreements',
      'lanbilling.public.accounts',
      'lanbilling.public.service_categories',
      'lanbilling.public.multitarifs',
      'lanbilling.public.lifestream_heartbeat',
    ]);
    expect(MDB.heartbeat).toBeNull();
    expect(MDB.tables.get('lanbilling.billing.multitarifs')).toBe('multitarifs');
  });
});

describe('decodeRecord', () => {
  it('op c: an insert with the after image, committed at source.ts_ms, positioned by topic/partition/offset', () => {
    const d = decodeRecord(record(SERVICES, KEY, envelope('c', null, SERVICE_BEFORE), '41', 2), PG);
    expect(d).toEqual({
      kind: 'change',
      event: {
        table: 'services',
        op: 'insert',
        before: null,
        after: SERVICE_BEFORE,
        position: 'lanbilling.public.services/2/41',
        committedAt: new Date(PG_SOURCE.ts_ms),
      },
    });
  });

  it('op u: both images, decimals and date-times as the strings Debezium sent', () => {
    const d = decodeRecord(record(SERVICES, KEY, envelope('u', SERVICE_BEFORE, SERVICE_AFTER)), PG);
    expect(d.kind).toBe('change');
    if (d.kind !== 'change') return;
    expect(d.event.op).toBe('update');
    expect(d.event.before).toEqual(SERVICE_BEFORE);
    expect(d.event.after).toMatchObject({
      state: 3,
      timeto: '2026-04-01T00:00:00Z',
      mul: '12345678901234.123456',
    });
  });

  it('a zero date is "not set" (null): the NOT NULL epoch of MySQL/MariaDB, and PostgreSQL\'s -infinity', () => {
    const zero = { ...SERVICE_AFTER, activated: '1970-01-01T00:00:00Z', timefrom: '2026-03-01T00:00:00Z' };
    const d = decodeRecord(record(SERVICES, KEY, envelope('c', null, zero)), PG);
    expect(d).toMatchObject({
      kind: 'change',
      event: { after: { activated: null, timefrom: '2026-03-01T00:00:00Z' } },
    });
    for (const v of ['-infinity', '-290308-12-21T19:59:05.224192Z', '0000-00-00T00:00:00Z']) {
      const e = decodeRecord(
        record(SERVICES, KEY, envelope('u', { ...SERVICE_BEFORE, activated: v }, SERVICE_AFTER)),
        PG,
      );
      expect(e.kind === 'change' && e.event.before?.activated, v).toBeNull();
    }
    const vg = decodeRecord(
      record(
        VGROUPS,
        { vg_id: 1 },
        envelope('u', null, { vg_id: 1, block_date: '1970-01-01T00:00:00Z', blocked: 0 }),
      ),
      PG,
    );
    expect(vg).toMatchObject({
      kind: 'change',
      event: { after: { vg_id: 1, block_date: null, blocked: 0 } },
    });
    // other tables' and other columns' values are left as sent
    const agreement = { agrm_id: 1, balance: '1970-01-01T00:00:00Z' };
    const a = decodeRecord(
      record('lanbilling.public.agreements', { agrm_id: 1 }, envelope('c', null, agreement)),
      PG,
    );
    expect(a).toMatchObject({ kind: 'change', event: { after: agreement } });
  });

  it('op u without REPLICA IDENTITY FULL (before null) is still an update', () => {
    const d = decodeRecord(record(SERVICES, KEY, envelope('u', null, SERVICE_AFTER)), PG);
    expect(d).toMatchObject({ kind: 'change', event: { op: 'update', before: null, after: SERVICE_AFTER } });
  });

  it('op d: a delete with the before image', () => {
    const d = decodeRecord(record(SERVICES, KEY, envelope('d', SERVICE_AFTER, null)), PG);
    expect(d).toMatchObject({
      kind: 'change',
      event: { table: 'services', op: 'delete', before: SERVICE_AFTER, after: null },
    });
  });

  it('op r: a snapshot read is a row as it is', () => {
    const d = decodeRecord(record(SERVICES, KEY, envelope('r', null, SERVICE_BEFORE)), PG);
    expect(d).toMatchObject({ kind: 'change', event: { op: 'snapshot', after: SERVICE_BEFORE } });
  });

  it('op t: a truncate carries no images', () => {
    const d = decodeRecord(record(SERVICES, null, envelope('t', null, null)), PG);
    expect(d).toMatchObject({
      kind: 'change',
      event: { table: 'services', op: 'truncate', before: null, after: null },
    });
  });

  it('op m (a logical-decoding message) and the tombstone after a delete are ignored', () => {
    expect(decodeRecord(record(SERVICES, null, envelope('m', null, null)), PG)).toMatchObject({
      kind: 'ignored',
      why: 'message',
    });
    expect(decodeRecord(record(SERVICES, KEY, null), PG)).toEqual({
      kind: 'ignored',
      why: 'tombstone',
      sourceTs: null,
    });
  });

  it('a primary-key change (d + tombstone + c) names the account twice and nothing else', () => {
    const moved = { ...SERVICE_BEFORE, service_id: 11 };
    const seq = [
      record(SERVICES, KEY, envelope('d', SERVICE_BEFORE, null), '1'),
      record(SERVICES, KEY, null, '2'),
      record(SERVICES, { service_id: 11 }, envelope('c', null, moved), '3'),
    ].map((r) => decodeRecord(r, PG));
    expect(
      seq.map((d) =>
        d.kind === 'change' ? `${d.event.op}:${String((d.event.before ?? d.event.after)?.vg_id)}` : d.kind,
      ),
    ).toEqual(['delete:1', 'ignored', 'insert:1']);
  });

  it('the heartbeat table is ignored but its time is kept for the lag gauge', () => {
    const hb = envelope(
      'u',
      { id: 1, ts: '2026-11-25T20:00:00Z' },
      { id: 1, ts: '2026-11-25T20:00:10Z' },
      { ...PG_SOURCE, table: 'lifestream_heartbeat' },
    );
    expect(decodeRecord(record('lanbilling.public.lifestream_heartbeat', { id: 1 }, hb), PG)).toEqual({
      kind: 'ignored',
      why: 'heartbeat',
      sourceTs: PG_SOURCE.ts_ms,
    });
  });

  it('a MariaDB envelope (binlog source) decodes the same way', () => {
    const d = decodeRecord(
      record(
        'lanbilling.billing.services',
        KEY,
        envelope('u', SERVICE_BEFORE, SERVICE_AFTER, MARIADB_SOURCE),
      ),
      MDB,
    );
    expect(d).toMatchObject({
      kind: 'change',
      event: {
        table: 'services',
        op: 'update',
        committedAt: new Date(MARIADB_SOURCE.ts_ms),
        position: 'lanbilling.billing.services/0/7',
      },
    });
  });

  it('a {schema, payload} value is unwrapped', () => {
    const d = decodeRecord(record(SERVICES, KEY, withSchema(envelope('c', null, SERVICE_BEFORE))), PG);
    expect(d).toMatchObject({ kind: 'change', event: { op: 'insert', after: SERVICE_BEFORE } });
  });

  it('without source.ts_ms the envelope ts_ms is the commit time; without either it is unknown', () => {
    const noSource = JSON.stringify({ before: null, after: SERVICE_BEFORE, op: 'c', ts_ms: 1795637359202 });
    expect(decodeRecord(record(SERVICES, KEY, noSource), PG)).toMatchObject({
      event: { committedAt: new Date(1795637359202) },
    });
    const bare = JSON.stringify({ before: null, after: SERVICE_BEFORE, op: 'c' });
    expect(decodeRecord(record(SERVICES, KEY, bare), PG)).toMatchObject({ event: { committedAt: null } });
  });

  describe('malformed messages', () => {
    const broken = (topic: string, key: object | string | null, value: string) =>
      decodeRecord(record(topic, key, value, '99', 1), PG);

    it('not JSON: says so, with the position; the account from a vg_id key', () => {
      expect(broken(VGROUPS, { vg_id: 7 }, '{"before": nul')).toEqual({
        kind: 'malformed',
        error: expect.stringMatching(/^the message value is not JSON \(/),
        vgId: 7,
        position: 'lanbilling.public.vgroups/1/99',
      });
    });

    it('not JSON and a key without vg_id: no account to park', () => {
      expect(broken(SERVICES, KEY, 'garbage')).toMatchObject({ kind: 'malformed', vgId: null });
      expect(broken(SERVICES, 'not json either', 'garbage')).toMatchObject({ kind: 'malformed', vgId: null });
    });

    it('JSON but not an envelope', () => {
      expect(broken(SERVICES, KEY, '[1,2]')).toMatchObject({
        kind: 'malformed',
        error: 'the message value is not a Debezium envelope (a JSON array)',
      });
      expect(broken(SERVICES, KEY, '"text"')).toMatchObject({
        error: 'the message value is not a Debezium envelope (a JSON string)',
      });
      expect(broken(SERVICES, KEY, '{"hello":"world"}')).toMatchObject({
        error: 'no "op": not a Debezium change envelope',
      });
    });

    it('an unknown op, attributed through the images', () => {
      expect(broken(SERVICES, KEY, envelope('x', null, { ...SERVICE_BEFORE, vg_id: 12 }))).toMatchObject({
        kind: 'malformed',
        error: 'unknown Debezium op "x"',
        vgId: 12,
      });
    });

    it('images that are not rows, or missing where the op needs them', () => {
      expect(broken(SERVICES, KEY, envelope('c', null, null))).toMatchObject({
        error: 'op "c" without the "after" row image',
        vgId: null,
      });
      expect(broken(SERVICES, KEY, envelope('d', null, null))).toMatchObject({
        error: 'op "d" without the "before" row image',
      });
      expect(
        broken(SERVICES, KEY, JSON.stringify({ op: 'u', before: SERVICE_BEFORE, after: 'x' })),
      ).toMatchObject({
        error: '"after" is not a row object',
        vgId: 1,
      });
      expect(
        broken(SERVICES, KEY, JSON.stringify({ op: 'u', before: [1], after: SERVICE_AFTER })),
      ).toMatchObject({ error: '"before" is not a row object' });
    });

    it('a topic that is not a captured table', () => {
      expect(
        decodeRecord(
          record('lanbilling.public.tarifs', { tar_id: 1 }, envelope('c', null, { tar_id: 1 })),
          PG,
        ),
      ).toMatchObject({
        kind: 'malformed',
        error: 'topic "lanbilling.public.tarifs" is not a captured table\'s topic',
      });
    });

    it('vg_id as a decimal string still attributes; zero, negatives and fractions do not', () => {
      expect(broken(VGROUPS, { vg_id: '15' }, 'x')).toMatchObject({ vgId: 15 });
      for (const bad of [0, -3, 1.5, '1e3'])
        expect(broken(VGROUPS, { vg_id: bad }, 'x')).toMatchObject({ vgId: null });
    });
  });
});
