// Migration 006 on a journal written by an earlier version, on both servers: a commit without an
// ensure stored whatever billingTransactionId the caller sent, so rows may share one. The upgrade
// keeps it on the earliest row, gives the others fresh values, then makes the column unique
// (byte for byte on MySQL too) and adds the binding columns and the agreement lock table; the
// downgrade takes them away again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountState } from '../../migrations/001_account_state.js';
import { upsale } from '../../migrations/003_upsale.js';
import { upsaleBinding } from '../../migrations/006_upsale_binding.js';
import { UpsaleJournal } from '../../src/state/upsale-journal.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';

describe.each(DIALECTS)('upsale journal migration 006 on %s', (dialect) => {
  let db: TestDatabase;
  const ctx = { dialect, prefix: 'lifestream_', captureMode: 'triggers' as const };
  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'upsmig');
    await accountState.up(db.knex, ctx); // 003 indexes the account mapping 001 creates
    await upsale.up(db.knex, ctx);
  });
  afterAll(async () => db?.drop());

  const row = (qs: string, billingId: string, ensuredAt: string | null) => ({
    qs_transaction_id: qs,
    billing_transaction_id: billingId,
    kind: 'add',
    state: 'committed',
    vg_id: 1001,
    new_offer_id: '5010',
    trial_days: 0,
    ensured_at: ensuredAt,
    committed_at: '2026-01-01 10:00:00',
  });

  it('upgrades a journal whose rows share billingTransactionIds, then refuses a duplicate', async () => {
    await db
      .knex('lifestream_upsale')
      .insert([
        row('old-b', 'bt-from-platform', '2026-01-01 09:00:00'),
        row('old-a', 'bt-from-platform', null),
        row('old-c', 'bt-from-platform', '2026-01-01 08:00:00'),
        row('case', 'BT-CASE', null),
        row('case2', 'bt-case', null),
      ]);
    await upsaleBinding.up(db.knex, ctx);

    const ids = new Map(
      (await db.knex('lifestream_upsale').select('qs_transaction_id', 'billing_transaction_id')).map((r) => [
        String(r.qs_transaction_id),
        String(r.billing_transaction_id),
      ]),
    );
    // the earliest keeps the value (coalesce(ensured_at, committed_at)), the others get fresh ones
    expect(ids.get('old-c')).toBe('bt-from-platform');
    expect(ids.get('old-a')).not.toBe('bt-from-platform');
    expect(ids.get('old-b')).not.toBe('bt-from-platform');
    expect(new Set(ids.values()).size).toBe(ids.size);
    // values differing only in case are two values, on MySQL too
    expect([ids.get('case'), ids.get('case2')]).toEqual(['BT-CASE', 'bt-case']);

    const journal = new UpsaleJournal('lifestream_');
    const rec = await journal.get(db.knex, 'old-c');
    expect(rec).toMatchObject({ accountId: null, accountLogin: null, basicsSeen: null, state: 'committed' });
    await expect(db.knex('lifestream_upsale').insert(row('new', 'bt-from-platform', null))).rejects.toThrow(
      /duplicate|unique/i,
    );
    await db.knex('lifestream_upsale_agreement').insert({ agrm_id: 501 });

    await upsaleBinding.down(db.knex, ctx);
    expect(await db.knex.schema.hasTable('lifestream_upsale_agreement')).toBe(false);
    expect(await db.knex.schema.hasColumn('lifestream_upsale', 'basics_seen')).toBe(false);
    await upsaleBinding.up(db.knex, ctx);
    expect(await db.knex.schema.hasColumn('lifestream_upsale', 'basics_seen')).toBe(true);
  });
});
