// One sale per qsTransactionId (src/upsale/binding.ts): the journal keeps how the first ensure
// named the account (account_id, account_login) and which basic rows the account held then
// (basics_seen), and billing_transaction_id becomes unique, compared byte for byte. Plus
// <prefix>upsale_agreement: one row per agreement that upsale has sold on, locked by every commit
// so that sales on several accounts of one agreement (which holds the money) are decided one at a
// time. A lock row of our own, not the agreements row: the billing's charging run writes that
// row, and waiting on it inside our transaction could make the billing's own write fail.
import { randomUUID } from 'node:crypto';
import type { Migration } from './types.js';

export const upsaleBinding: Migration = {
  name: '006_upsale_binding',
  async up(knex, { prefix, dialect }) {
    const table = `${prefix}upsale`;
    await knex.schema.alterTable(table, (t) => {
      /** the names the first ensure gave the account, as sent (either may be absent) */
      t.string('account_id', 100).nullable();
      t.string('account_login', 100).nullable();
      /** JSON array of the services rows (service_id) of the basics in force or planned at the first ensure; NULL on rows from before */
      t.text('basics_seen').nullable();
    });
    if (dialect === 'mysql') {
      await knex.schema.alterTable(table, (t) => {
        t.string('billing_transaction_id', 128).notNullable().collate('utf8mb4_bin').alter();
      });
    }
    // Before this version a commit without an ensure stored the billingTransactionId the caller
    // sent, so two rows may share one. The earliest keeps it; the others get a fresh value (a
    // repeat of such an old commit with the old value is then answered 409, and writes nothing).
    const shared: { billing_transaction_id: string }[] = await knex(table)
      .select('billing_transaction_id')
      .groupBy('billing_transaction_id')
      .havingRaw('count(*) > 1');
    for (const { billing_transaction_id: value } of shared) {
      const rows: { qs_transaction_id: string }[] = await knex(table)
        .where({ billing_transaction_id: value })
        .select('qs_transaction_id')
        .orderByRaw('coalesce(ensured_at, committed_at), qs_transaction_id');
      for (const row of rows.slice(1)) {
        await knex(table)
          .where({ qs_transaction_id: row.qs_transaction_id })
          .update({ billing_transaction_id: randomUUID() });
      }
    }
    await knex.schema.alterTable(table, (t) => {
      t.unique(['billing_transaction_id'], { indexName: `${prefix}upsale_billing_tx` });
    });
    await knex.schema.createTable(`${prefix}upsale_agreement`, (t) => {
      t.integer('agrm_id').notNullable().primary();
    });
  },
  async down(knex, { prefix }) {
    await knex.schema.dropTableIfExists(`${prefix}upsale_agreement`);
    await knex.schema.alterTable(`${prefix}upsale`, (t) => {
      t.dropUnique(['billing_transaction_id'], `${prefix}upsale_billing_tx`);
      t.dropColumns('account_id', 'account_login', 'basics_seen');
    });
  },
};
