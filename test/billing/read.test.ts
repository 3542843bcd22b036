// The read model against the sample billing on both real servers: every mapping rule of
// src/billing/read.ts checked on the account made for it, plus paging, batching and fan-out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UTC_CLOCK } from '../../src/billing/clock.js';
import { type BillingReader, billingReader } from '../../src/billing/read.js';
import { sqlDateTime } from '../../src/billing/sql-time.js';
import type { AccountState } from '../../src/billing/types.js';
import { categoryIdx, loadCatalogue } from '../fixture/catalogue.js';
import { type GenerateSummary, generateAccounts } from '../fixture/generate.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE, type SampleAccountName } from '../fixture/sample.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';

const NOW = new Date('2026-03-29T01:30:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(NOW.getTime() + ms);

const A = SAMPLE.accounts;
const T = SAMPLE.tariffs;
const idx = categoryIdx;

describe.each(DIALECTS)('billing read model on %s', (dialect) => {
  let db: TestDatabase;
  let reader: BillingReader;

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'read');
    await createLanbillingSchema(db.knex, dialect);
    await loadSample(db.knex, dialect, NOW);
    reader = billingReader(db.knex, UTC_CLOCK);
  });
  afterAll(async () => db?.drop());

  async function account(name: SampleAccountName): Promise<AccountState> {
    const a = await reader.loadAccount(A[name].vgId, NOW);
    if (!a) throw new Error(`sample account ${name} not read`);
    return a;
  }
  const uuids = (a: AccountState) => a.services.map((s) => s.uuid);

  it('reads a layout-1 account exactly: card, agreement, decimals, services, open timeto as null', async () => {
    expect(await account('svcBasic')).toEqual({
      vgId: A.svcBasic.vgId,
      login: 'svc-basic',
      agentId: SAMPLE.agents.usbox,
      tarId: T.tvServices,
      blocked: 0,
      archive: false,
      agreement: {
        agrmId: SAMPLE.agreements.ivanovMain.agrmId,
        number: 'ТВ-2024-0501',
        balance: '350.000000',
        credit: '0.000000',
        state: 0,
        archive: false,
      },
      card: {
        uid: SAMPLE.cards.ivanov.uid,
        name: 'Иванов Иван Иванович',
        email: 'ivanov@example.ru',
        archive: false,
      },
      multitarifs: [],
      services: [
        {
          serviceId: expect.any(Number),
          tarId: T.tvServices,
          servCatIdx: idx(T.tvServices, '100'),
          uuid: '100',
          serviceType: 0,
          timefrom: at(-90 * DAY),
          timeto: null,
          state: 3,
          needCalc: 1,
        },
        {
          serviceId: expect.any(Number),
          tarId: T.tvServices,
          servCatIdx: idx(T.tvServices, '5010'),
          uuid: '5010',
          serviceType: 1,
          timefrom: at(-30 * DAY),
          timeto: null,
          state: 3,
          needCalc: 1,
        },
        {
          serviceId: expect.any(Number),
          tarId: T.tvServices,
          servCatIdx: idx(T.tvServices, '5011'),
          uuid: '5011',
          serviceType: 1,
          timefrom: at(-1 * DAY),
          timeto: null,
          state: 1,
          needCalc: 1,
        },
      ],
    });
  });

  it('returns services in service_id order', async () => {
    const ids = (await account('inetTvB')).services.map((s) => s.serviceId);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
  });

  it('keeps money as six-decimal strings, never floats', async () => {
    expect((await account('svcBlockedBalance')).agreement).toMatchObject({
      balance: '-12.500000',
      credit: '0.000000',
    });
    expect((await account('svcBlockedAdmin')).agreement.balance).toBe('120.750000');
    expect((await account('inetTvB')).agreement).toMatchObject({
      balance: '1234.560000',
      credit: '500.000000',
    });
    expect((await account('svcSwitchedOff')).agreement.balance).toBe('0.000000');
  });

  it('gives six-decimal money even when a replica declares the column with another scale', async () => {
    const petrov = SAMPLE.agreements.petrov.agrmId;
    const [widen, restore] =
      dialect === 'pg'
        ? [
            'ALTER TABLE agreements ALTER COLUMN balance TYPE numeric',
            'ALTER TABLE agreements ALTER COLUMN balance TYPE numeric(20,6)',
          ]
        : [
            'ALTER TABLE agreements MODIFY balance decimal(20,2) NOT NULL DEFAULT 0',
            'ALTER TABLE agreements MODIFY balance decimal(20,6) NOT NULL DEFAULT 0',
          ];
    await db.knex.raw(widen);
    try {
      await db.knex('agreements').where('agrm_id', petrov).update({ balance: '-12.5' });
      const [row] = await db.knex('agreements').where('agrm_id', petrov).select('balance');
      expect(row.balance).not.toBe('-12.500000'); // the driver really hands over other text now
      expect((await account('svcBlockedBalance')).agreement.balance).toBe('-12.500000');
    } finally {
      await db.knex.raw(restore);
    }
  });

  it('passes block codes through as numbers', async () => {
    const blocked = await reader.loadAccounts(
      [
        A.svcBlockedBalance.vgId,
        A.svcBlockedUser.vgId,
        A.svcBlockedAdmin.vgId,
        A.svcSwitchedOff.vgId,
        A.svcBasic.vgId,
      ],
      NOW,
    );
    expect(blocked.map((a) => [a.login, a.blocked])).toEqual([
      ['svc-basic', 0],
      ['svc-blocked-balance', 1],
      ['svc-blocked-user', 2],
      ['svc-blocked-admin', 3],
      ['svc-switched-off', 10],
    ]);
  });

  it('reads archive flags of vgroup, card and agreement, and the agreement state', async () => {
    const archived = await account('svcArchived');
    expect([archived.archive, archived.card.archive, archived.agreement.archive]).toEqual([true, true, true]);
    expect(archived.services.map((s) => s.uuid)).toEqual(['100']);
    const terminated = await account('svcAgreementTerminated');
    expect(terminated.agreement.state).toBe(2);
    expect([terminated.archive, terminated.agreement.archive]).toEqual([false, false]);
  });

  it('returns both basics of the conflict account, both open', async () => {
    const a = await account('svcTwoBasics');
    expect(a.services.map((s) => [s.uuid, s.serviceType, s.timeto])).toEqual([
      ['100', 0, null],
      ['101', 0, null],
    ]);
  });

  it('loads a service that ended within the last day and leaves older history out', async () => {
    const a = await account('svcExpired');
    expect(uuids(a)).toEqual(['100', '5010']);
    expect(a.services[1]).toMatchObject({ timefrom: at(-30 * DAY), timeto: at(-2 * HOUR) });
    // the same account a day and a half later: the 5010 row has become history too
    const later = await reader.loadAccount(A.svcExpired.vgId, at(36 * HOUR));
    expect(later && uuids(later)).toEqual(['100']);
  });

  it('loads services that start later and ones that end soon, with their dates', async () => {
    const future = await account('svcFuture');
    expect(future.services.find((s) => s.uuid === '5012')).toMatchObject({
      timefrom: at(3 * DAY),
      timeto: null,
      state: 1,
    });
    const soon = await account('svcExpiringSoon');
    expect(soon.services).toMatchObject([{ uuid: '101', timefrom: at(-10 * DAY), timeto: at(5 * MIN) }]);
  });

  it('passes state, need_calc and uuids the platform may refuse through for the core to judge', async () => {
    expect((await account('svcStopped')).services.map((s) => [s.uuid, s.state])).toEqual([
      ['100', 3],
      ['5010', 2],
    ]);
    expect((await account('svcDeleting')).services.map((s) => [s.uuid, s.needCalc])).toEqual([
      ['100', 1],
      ['5011', -1],
    ]);
    expect(uuids(await account('svcUnknownUuid'))).toEqual(['100', SAMPLE.subscriptions.unknown]);
    expect(uuids(await account('svcArchivedSubscription'))).toEqual(['100', SAMPLE.subscriptions.archived]);
  });

  it('keeps a services row whose category is missing, with uuid and serviceType null', async () => {
    const a = await account('svcMissingCategory');
    expect(a.services.map((s) => [s.servCatIdx, s.uuid, s.serviceType])).toEqual([
      [idx(T.tvServices, '100'), '100', 0],
      [99, null, null],
    ]);
  });

  it('leaves out services that are not TV (empty uuid)', async () => {
    expect(uuids(await account('inetTvA'))).toEqual(['101', '5010']);
    expect((await account('inetOnly')).services).toEqual([]);
    expect(uuids(await account('inetMulti'))).toEqual(['100', '5011']);
  });

  it('layout 2 after a tariff switch: recently closed rows on A and the same uuids re-attached on B', async () => {
    const a = await account('inetTvB');
    expect(a.tarId).toBe(T.internetTvB);
    expect(a.services.map((s) => [s.tarId, s.servCatIdx, s.uuid, s.timeto])).toEqual([
      [T.internetTvA, idx(T.internetTvA, '100'), '100', at(-1 * HOUR)],
      [T.internetTvA, idx(T.internetTvA, '5013'), '5013', at(-1 * HOUR)],
      [T.internetTvB, idx(T.internetTvB, '100'), '100', null],
      [T.internetTvB, idx(T.internetTvB, '5013'), '5013', null],
    ]);
  });

  it('layout 3: every multitarifs row with its window, open dtto as null', async () => {
    const multi = await account('inetMulti');
    expect(multi.tarId).toBe(T.internetOnly);
    expect(multi.multitarifs).toEqual([
      { recordId: expect.any(Number), tarId: T.tvMulti, dtfrom: at(-30 * DAY), dtto: null },
    ]);
    expect(multi.services.every((s) => s.tarId === T.tvMulti)).toBe(true);
    expect((await account('inetMultiExpired')).multitarifs).toMatchObject([
      { dtfrom: at(-60 * DAY), dtto: at(-1 * DAY) },
    ]);
    expect((await account('inetMultiFuture')).multitarifs).toMatchObject([
      { dtfrom: at(2 * DAY), dtto: null },
    ]);
  });

  it('trims the card email and reads empty or NULL as null', async () => {
    expect((await account('svcBasic')).card.email).toBe('ivanov@example.ru');
    expect((await account('svcNoEmail')).card.email).toBeNull();
    expect((await account('svcDeleting')).card.email).toBeNull();
  });

  it('loadAccount answers null for an unknown vg_id and for a template vgroup', async () => {
    expect(await reader.loadAccount(424242, NOW)).toBeNull();
    expect(await reader.loadAccount(A.template.vgId, NOW)).toBeNull();
  });

  it('loadAccounts answers in vg_id order, without duplicates, unknown ids or templates', async () => {
    const got = await reader.loadAccounts(
      [A.inetTvA.vgId, A.svcBasic.vgId, 424242, A.inetTvA.vgId, A.template.vgId, A.svcFuture.vgId],
      NOW,
    );
    expect(got.map((a) => a.vgId)).toEqual([A.svcBasic.vgId, A.svcFuture.vgId, A.inetTvA.vgId]);
    expect(await reader.loadAccounts([], NOW)).toEqual([]);
  });

  it('loadAccounts runs three queries per 1,000 vg_ids, however many accounts and services', async () => {
    const queries: string[] = [];
    const count = (q: { sql: string }) => queries.push(q.sql);
    db.knex.on('query', count);
    try {
      await reader.loadAccounts([A.svcBasic.vgId], NOW);
      expect(queries).toHaveLength(3);
      queries.length = 0;
      const all = await reader.loadAccounts(SAMPLE.liveVgIds, NOW);
      expect(all).toHaveLength(SAMPLE.liveVgIds.length);
      expect(queries).toHaveLength(3);
      queries.length = 0;
      // 2,500 ids = 3 chunks; the padding ids don't exist and only cost the IN list
      const padded = [
        ...SAMPLE.liveVgIds,
        ...Array.from({ length: 2500 - SAMPLE.liveVgIds.length }, (_, i) => 500_000 + i),
      ];
      expect(await reader.loadAccounts(padded, NOW)).toEqual(all);
      expect(queries).toHaveLength(3 + 1 + 1); // first chunk holds every sample id; the others find no vgroup
    } finally {
      db.knex.removeListener('query', count);
    }
  });

  async function walk(pageSize: number): Promise<AccountState[]> {
    const seen: AccountState[] = [];
    let after = 0;
    for (;;) {
      const page = await reader.pageAccounts(after, pageSize, NOW);
      if (page.length === 0) return seen;
      expect(page.length).toBeLessThanOrEqual(pageSize);
      seen.push(...page);
      after = page[page.length - 1]!.vgId;
    }
  }

  it('pageAccounts visits every account exactly once, archived included, templates never', async () => {
    const seen = (await walk(4)).map((a) => a.vgId);
    expect(seen).toEqual(SAMPLE.liveVgIds);
    expect(seen).toContain(A.svcArchived.vgId);
    expect(seen).not.toContain(A.template.vgId);
    expect(await reader.countAccounts()).toBe(SAMPLE.liveVgIds.length);
  });

  it('pageAccounts gives the same accounts as loadAccounts, whatever the page size', async () => {
    // pages fetch children by vg_id range; the template inside the range must lend nobody its service
    const expected = await reader.loadAccounts(SAMPLE.liveVgIds, NOW);
    for (const size of [1, 3, 18, 1000]) expect(await walk(size)).toEqual(expected);
  });

  it('vgIdsByLogin: exact logins only; a login used under two agents gives both vg_ids', async () => {
    const got = await reader.vgIdsByLogin([
      'svc-basic',
      'same-login',
      'no-such-login',
      'SVC-BASIC',
      'svc-basic ',
      'tpl-svc',
    ]);
    expect([...got.entries()].sort()).toEqual([
      ['same-login', [A.sameLoginUsbox.vgId, A.sameLoginRadius.vgId]],
      ['svc-basic', [A.svcBasic.vgId]],
    ]);
    expect(await reader.vgIdsByLogin([])).toEqual(new Map());
  });

  it('fans out an agreement and a card to their live vgroups', async () => {
    expect(await reader.vgIdsOfAgreement(SAMPLE.agreements.ivanovMain.agrmId)).toEqual([
      A.svcBasic.vgId,
      A.inetTvA.vgId,
    ]);
    expect(await reader.vgIdsOfAgreement(SAMPLE.agreements.archived.agrmId)).toEqual([A.svcArchived.vgId]);
    expect(await reader.vgIdsOfCard(SAMPLE.cards.ivanov.uid)).toEqual([
      A.svcBasic.vgId,
      A.svcExpiringSoon.vgId,
      A.inetTvA.vgId,
    ]);
    expect(await reader.vgIdsOfCard(424242)).toEqual([]);
  });

  it('fans out a category to the vgroups holding it, history excluded', async () => {
    // 5011 on the services tariff: held by svc-basic and svc-deleting; svc-expired's row ended 40 days ago
    expect(await reader.vgIdsHoldingCategory(T.tvServices, idx(T.tvServices, '5011'), NOW)).toEqual([
      A.svcBasic.vgId,
      A.svcDeleting.vgId,
    ]);
    // 5013 on tariff A: inet-tv-b's row closed an hour ago still counts, a day and a half later not
    const aRow = [T.internetTvA, idx(T.internetTvA, '5013')] as const;
    expect(await reader.vgIdsHoldingCategory(...aRow, NOW)).toEqual([A.inetTvB.vgId]);
    expect(await reader.vgIdsHoldingCategory(...aRow, at(36 * HOUR))).toEqual([]);
    // the template holds 100 too, but is not an account
    expect(await reader.vgIdsHoldingCategory(T.tvServices, idx(T.tvServices, '100'), NOW)).not.toContain(
      A.template.vgId,
    );
  });

  it.runIf(dialect === 'mysql')(
    'reads MySQL zero dates as not set: timefrom since forever, timeto open',
    async () => {
      const vgId = 7001;
      await db.knex.transaction(async (trx) => {
        // old billings wrote zero dates; today's default sql_mode may refuse them, so relax it here only
        const [[{ mode }]] = await trx.raw('SELECT @@SESSION.sql_mode AS mode');
        await trx.raw("SET SESSION sql_mode = ''");
        try {
          await trx('vgroups').insert({
            vg_id: vgId,
            id: SAMPLE.agents.usbox,
            agrm_id: SAMPLE.agreements.gusev.agrmId,
            uid: SAMPLE.cards.gusev.uid,
            tar_id: T.tvServices,
            login: 'svc-zero-dates',
          });
          await trx.raw(
            "INSERT INTO services (vg_id, tar_id, serv_cat_idx, timefrom, timeto, state) VALUES (?, ?, ?, '0000-00-00 00:00:00', '0000-00-00 00:00:00', 3)",
            [vgId, T.tvServices, idx(T.tvServices, '101')],
          );
          await trx.raw(
            "INSERT INTO multitarifs (vg_id, tar_id, dtfrom, dtto) VALUES (?, ?, '0000-00-00 00:00:00', '0000-00-00 00:00:00')",
            [vgId, T.tvMulti],
          );
        } finally {
          await trx.raw('SET SESSION sql_mode = ?', [mode]);
        }
      });
      try {
        const a = await reader.loadAccount(vgId, NOW);
        expect(a?.services).toEqual([
          expect.objectContaining({ uuid: '101', timefrom: new Date(0), timeto: null }),
        ]);
        expect(a?.multitarifs).toEqual([expect.objectContaining({ dtfrom: new Date(0), dtto: null })]);
        expect(await reader.vgIdsHoldingCategory(T.tvServices, idx(T.tvServices, '101'), NOW)).toContain(
          vgId,
        );
      } finally {
        await db.knex('services').where('vg_id', vgId).del();
        await db.knex('multitarifs').where('vg_id', vgId).del();
        await db.knex('vgroups').where('vg_id', vgId).del();
      }
    },
  );

  it('reads a far-future timeto other than the marker as open', async () => {
    const [row] = await db.knex('services').where({ vg_id: A.svcBasic.vgId }).orderBy('service_id').limit(1);
    await db.knex('services').where('service_id', row.service_id).update({ timeto: '9999-01-01 00:00:00' });
    try {
      const a = await account('svcBasic');
      expect(a.services[0]).toMatchObject({ serviceId: row.service_id, timeto: null });
    } finally {
      await db.knex('services').where('service_id', row.service_id).update({ timeto: '9999-12-31 23:59:59' });
    }
  });

  it('compares times in UTC: a service ending exactly one day before `at` is history, a second later it is not', async () => {
    const edge = sqlDateTime(at(-1 * DAY));
    const [row] = await db.knex('services').where({ vg_id: A.svcFuture.vgId }).orderBy('service_id').limit(1);
    await db.knex('services').where('service_id', row.service_id).update({ timeto: edge });
    try {
      expect(uuids(await account('svcFuture'))).toEqual(['5012']);
      await db
        .knex('services')
        .where('service_id', row.service_id)
        .update({ timeto: sqlDateTime(at(-1 * DAY + 1000)) });
      expect(uuids(await account('svcFuture'))).toEqual(['100', '5012']);
    } finally {
      await db.knex('services').where('service_id', row.service_id).update({ timeto: '9999-12-31 23:59:59' });
    }
  });
});

describe.each(DIALECTS)('generated accounts read back on %s', (dialect) => {
  const COUNT = 2000;
  let db: TestDatabase;
  let reader: BillingReader;
  let made: GenerateSummary;

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'readgen');
    await createLanbillingSchema(db.knex, dialect);
    await loadCatalogue(db.knex, NOW);
    made = await generateAccounts(db.knex, dialect, { count: COUNT, seed: 7, now: NOW });
    reader = billingReader(db.knex, UTC_CLOCK);
  });
  afterAll(async () => db?.drop());

  async function everyAccount(pageSize: number): Promise<AccountState[]> {
    const out: AccountState[] = [];
    for (let page = await reader.pageAccounts(0, pageSize, NOW); page.length > 0; ) {
      out.push(...page);
      page = await reader.pageAccounts(page[page.length - 1]!.vgId, pageSize, NOW);
    }
    return out;
  }

  it('pages over every generated account once, in vg_id order', async () => {
    const all = await everyAccount(300);
    expect(all.map((a) => a.vgId)).toEqual(Array.from({ length: COUNT }, (_, i) => made.firstVgId + i));
    expect(await reader.countAccounts()).toBe(COUNT);
  });

  it('reads back what the generator says it made', async () => {
    const all = await everyAccount(1000);
    expect(made.accounts).toBe(COUNT);
    expect(all.filter((a) => a.blocked !== 0)).toHaveLength(made.blocked);
    expect(all.filter((a) => a.archive)).toHaveLength(made.archived);
    expect(all.filter((a) => a.multitarifs.length > 0)).toHaveLength(made.multitariff);
    // history rows (closed 200 days ago) and non-TV rows are not loaded; everything else is
    expect(all.reduce((n, a) => n + a.services.length, 0)).toBe(made.tvServices - made.historyServices);
    expect(all.every((a) => a.services.filter((s) => s.serviceType === 0).length === 1)).toBe(true);
    expect(all.every((a) => a.services.every((s) => s.uuid !== null && s.uuid !== ''))).toBe(true);
    // the advertised mix, roughly: ~5 % blocked, ~1 % archived, ~10 % layout 3
    expect(made.blocked / COUNT).toBeGreaterThan(0.03);
    expect(made.blocked / COUNT).toBeLessThan(0.09);
    expect(made.archived).toBeGreaterThan(0);
    expect(made.multitariff / COUNT).toBeGreaterThan(0.06);
    expect(made.multitariff / COUNT).toBeLessThan(0.14);
  });

  it('gives the same accounts through loadAccounts in chunks as through paging, also with pages over 1,000', async () => {
    const ids = Array.from({ length: COUNT }, (_, i) => made.lastVgId - i); // reversed on purpose
    const paged = await everyAccount(1000);
    expect(await reader.loadAccounts(ids, NOW)).toEqual(paged);
    expect(await everyAccount(1500)).toEqual(paged); // one page, two chunks of children
  });

  it('fans out generated agreements and cards to their one vgroup', async () => {
    const [first] = await reader.pageAccounts(0, 1, NOW);
    expect(await reader.vgIdsOfAgreement(first!.agreement.agrmId)).toEqual([first!.vgId]);
    expect(await reader.vgIdsOfCard(first!.card.uid)).toEqual([first!.vgId]);
  });
});
