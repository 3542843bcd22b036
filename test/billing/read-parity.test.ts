// PostgreSQL and MySQL/MariaDB must give the very same AccountState values for the same billing:
// the sample and a generated batch are loaded into one database of each, then every read compared.
// This also checks that the generator is deterministic for a seed (row for row, ids included).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UTC_CLOCK } from '../../src/billing/clock.js';
import { type BillingReader, billingReader } from '../../src/billing/read.js';
import { generateAccounts } from '../fixture/generate.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const NOW = new Date('2026-07-01T21:15:00Z');

describe('PostgreSQL and MySQL/MariaDB read the same billing identically', () => {
  const dbs: TestDatabase[] = [];
  let pg: BillingReader;
  let my: BillingReader;

  beforeAll(async () => {
    for (const dialect of ['pg', 'mysql'] as const) {
      const db = await createTestDatabase(dialect, 'parity');
      dbs.push(db);
      await createLanbillingSchema(db.knex, dialect);
      await loadSample(db.knex, dialect, NOW);
      await generateAccounts(db.knex, dialect, { count: 500, seed: 11, now: NOW });
    }
    [pg, my] = dbs.map((db) => billingReader(db.knex, UTC_CLOCK)) as [BillingReader, BillingReader];
  });
  afterAll(async () => Promise.all(dbs.map((db) => db.drop())));

  it('every account, sample and generated, deep-equal', async () => {
    const [a, b] = await Promise.all([pg.pageAccounts(0, 5000, NOW), my.pageAccounts(0, 5000, NOW)]);
    expect(a).toHaveLength(SAMPLE.liveVgIds.length + 500);
    expect(b).toEqual(a);
  });

  it('the same accounts at other times (history cut moves with `at`)', async () => {
    for (const at of [new Date(NOW.getTime() - 86_400_000 * 50), new Date(NOW.getTime() + 86_400_000 * 3)]) {
      expect(await my.loadAccounts(SAMPLE.liveVgIds, at)).toEqual(
        await pg.loadAccounts(SAMPLE.liveVgIds, at),
      );
    }
  });

  it('counts, logins and fan-outs agree', async () => {
    expect(await my.countAccounts()).toBe(await pg.countAccounts());
    const logins = Object.values(SAMPLE.accounts).map((a) => a.login);
    expect(await my.vgIdsByLogin(logins)).toEqual(await pg.vgIdsByLogin(logins));
    for (const { agrmId } of Object.values(SAMPLE.agreements)) {
      expect(await my.vgIdsOfAgreement(agrmId)).toEqual(await pg.vgIdsOfAgreement(agrmId));
    }
    for (const { uid } of Object.values(SAMPLE.cards)) {
      expect(await my.vgIdsOfCard(uid)).toEqual(await pg.vgIdsOfCard(uid));
    }
    for (const [tarId, offers] of Object.entries(SAMPLE.categoryIdx)) {
      for (const idx of Object.values(offers)) {
        expect(await my.vgIdsHoldingCategory(Number(tarId), idx, NOW)).toEqual(
          await pg.vgIdsHoldingCategory(Number(tarId), idx, NOW),
        );
      }
    }
  });
});
