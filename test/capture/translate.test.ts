import { describe, expect, it } from 'vitest';
import { type Fanout, translate } from '../../src/capture/translate.js';
import type { ChangeEvent } from '../../src/capture/types.js';

const at = new Date('2026-05-01T12:00:00Z');

/** A billing with agreement 7 → vgroups 1, 2; card 70 → vgroups 1, 2, 3; category 10/4 held by 2, 3. */
function fakeFanout(): Fanout & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async vgIdsOfAgreement(id) {
      calls.push(`agreement ${id}`);
      return id === 7 ? [1, 2] : [];
    },
    async vgIdsOfCard(uid) {
      calls.push(`card ${uid}`);
      return uid === 70 ? [1, 2, 3] : [];
    },
    async vgIdsHoldingCategory(tar, idx) {
      calls.push(`category ${tar}/${idx}`);
      return tar === 10 && idx === 4 ? [2, 3] : tar === 10 && idx === 5 ? [9] : [];
    },
  };
}

let n = 0;
function ev(
  table: ChangeEvent['table'],
  op: ChangeEvent['op'],
  before: object | null,
  after: object | null,
): ChangeEvent {
  n++;
  return {
    table,
    op,
    before: before as ChangeEvent['before'],
    after: after as ChangeEvent['after'],
    position: `changelog:${n}`,
    committedAt: null,
  };
}

const ids = async (events: ChangeEvent[], fanout = fakeFanout()) =>
  (await translate(events, fanout, at)).map((e) => e.vgId).sort((a, b) => a - b);

describe('translating row changes into affected accounts', () => {
  it('services and multitarifs rows affect their vgroup, before and after', async () => {
    expect(await ids([ev('services', 'insert', null, { service_id: 1, vg_id: 5 })])).toEqual([5]);
    expect(await ids([ev('services', 'update', { vg_id: 5, state: 1 }, { vg_id: 6, state: 1 })])).toEqual([
      5, 6,
    ]);
    expect(await ids([ev('services', 'delete', { vg_id: 8 }, null)])).toEqual([8]);
    expect(
      await ids([ev('multitarifs', 'update', { vg_id: 4, dtto: null }, { vg_id: 4, dtto: '2026-01-01' })]),
    ).toEqual([4]);
  });

  it('a vgroups row affects itself, whatever column changed', async () => {
    expect(await ids([ev('vgroups', 'update', { vg_id: 3, descr: 'a' }, { vg_id: 3, descr: 'b' })])).toEqual([
      3,
    ]);
  });

  it('an agreement fans out to its vgroups, only when a column the state reads changed', async () => {
    expect(
      await ids([ev('agreements', 'update', { agrm_id: 7, balance: '1.5' }, { agrm_id: 7, balance: '-3' })]),
    ).toEqual([1, 2]);
    expect(
      await ids([
        ev(
          'agreements',
          'update',
          { agrm_id: 7, balance: 1.5, last_mod_date: 'x' },
          { agrm_id: 7, balance: '1.500000', last_mod_date: 'y' },
        ),
      ]),
    ).toEqual([]);
    expect(
      await ids([ev('agreements', 'update', { agrm_id: 7, archive: 0 }, { agrm_id: 7, archive: 1 })]),
    ).toEqual([1, 2]);
    expect(await ids([ev('agreements', 'insert', null, { agrm_id: 7 })])).toEqual([1, 2]);
  });

  it('a card fans out to its vgroups on email or archive, not on a phone number', async () => {
    expect(
      await ids([ev('accounts', 'update', { uid: 70, email: 'a@x.ru' }, { uid: 70, email: 'b@x.ru' })]),
    ).toEqual([1, 2, 3]);
    expect(
      await ids([
        ev(
          'accounts',
          'update',
          { uid: 70, email: 'a@x.ru', phone: '1' },
          { uid: 70, email: 'a@x.ru', phone: '2' },
        ),
      ]),
    ).toEqual([]);
  });

  it('a catalogue row fans out to its holders on uuid/type/enabled/archive, both keys when moved', async () => {
    expect(
      await ids([
        ev(
          'service_categories',
          'update',
          { tar_id: 10, serv_cat_idx: 4, uuid: '5010' },
          { tar_id: 10, serv_cat_idx: 4, uuid: '5011' },
        ),
      ]),
    ).toEqual([2, 3]);
    expect(
      await ids([
        ev(
          'service_categories',
          'update',
          { tar_id: 10, serv_cat_idx: 4, descr: 'a', uuid: '5010' },
          { tar_id: 10, serv_cat_idx: 4, descr: 'b', uuid: '5010' },
        ),
      ]),
    ).toEqual([]);
    expect(
      await ids([
        ev(
          'service_categories',
          'update',
          { tar_id: 10, serv_cat_idx: 4, enabled: 1 },
          { tar_id: 10, serv_cat_idx: 5, enabled: 1 },
        ),
      ]),
    ).toEqual([2, 3, 9]);
  });

  it('one entry per account, carrying its last change; fan-out looked up once per batch', async () => {
    const fanout = fakeFanout();
    const events = [
      ...Array.from({ length: 50 }, (_, i) =>
        ev(
          'agreements',
          'update',
          { agrm_id: 7, balance: String(i) },
          { agrm_id: 7, balance: String(i + 1) },
        ),
      ),
      ev('services', 'insert', null, { vg_id: 2 }),
    ];
    const entries = await translate(events, fanout, at);
    expect(entries.map((e) => e.vgId).sort()).toEqual([1, 2]);
    expect(entries.find((e) => e.vgId === 2)).toEqual({
      vgId: 2,
      reason: 'services',
      source: events.at(-1)!.position,
    });
    expect(fanout.calls).toEqual(['agreement 7']);
  });

  it("a key-only change (the trigger change log's rows) counts: it says nothing about the columns", async () => {
    expect(await ids([ev('agreements', 'update', { agrm_id: 7 }, { agrm_id: 7 })])).toEqual([1, 2]);
    expect(await ids([ev('accounts', 'update', { uid: 70 }, { uid: 70 })])).toEqual([1, 2, 3]);
    expect(
      await ids([
        ev('service_categories', 'update', { tar_id: 10, serv_cat_idx: 4 }, { tar_id: 10, serv_cat_idx: 4 }),
      ]),
    ).toEqual([2, 3]);
  });

  it('rows without the key columns affect nothing rather than failing the batch', async () => {
    expect(await ids([ev('services', 'insert', null, { service_id: 1 })])).toEqual([]);
  });
});
