// The upsale journal: one row per platform transaction (qsTransactionId), written by ensure
// (state `ensured`) and by commit (state `committed`, in the same database transaction as the
// services row). The primary key on the transaction id is what makes commit idempotent: a second
// writer of the same id fails on it instead of writing a second services row. Also indexes the
// account mapping by platform id, which is how the platform names the account it is selling to.
import type { Migration } from './types.js';

export const upsale: Migration = {
  name: '003_upsale',
  async up(knex, { prefix, dialect }) {
    await knex.schema.createTable(`${prefix}upsale`, (t) => {
      const id = t.string('qs_transaction_id', 128).notNullable();
      // MySQL's default collations are case- and trailing-space-insensitive: 'AB' and 'ab' would be
      // one transaction. The platform's id is opaque, so compare it byte for byte.
      if (dialect === 'mysql') id.collate('utf8mb4_bin');
      t.primary(['qs_transaction_id']);
      t.string('billing_transaction_id', 128).notNullable();
      /** add | replace: the endpoint family the transaction was started on */
      t.string('kind', 16).notNullable();
      /** ensured | committed */
      t.string('state', 16).notNullable();
      t.integer('vg_id').notNullable();
      t.string('new_offer_id', 40).notNullable();
      t.string('old_offer_id', 40).nullable();
      t.integer('trial_days').notNullable().defaultTo(0);
      /** the services row written by commit */
      t.integer('service_id').nullable();
      /** JSON array of the services rows commit closed (a replaced basic) */
      t.text('closed_service_ids').nullable();
      /** timefrom of the written row: the billingStartTimestamp answered to every repeat */
      t.dateTime('billing_start_at', { useTz: false }).nullable();
      t.dateTime('ensured_at', { useTz: false }).nullable();
      t.dateTime('committed_at', { useTz: false }).nullable();
      t.index(['vg_id'], `${prefix}upsale_vg_id`);
    });
    // Upsale finds the account by the platform's id first (accountId): without an index every call
    // would scan the whole mapping.
    await knex.schema.alterTable(`${prefix}accounts`, (t) => {
      t.index(['platform_id'], `${prefix}accounts_platform_id`);
    });
  },
  async down(knex, { prefix }) {
    await knex.schema.alterTable(`${prefix}accounts`, (t) => {
      t.dropIndex(['platform_id'], `${prefix}accounts_platform_id`);
    });
    await knex.schema.dropTableIfExists(`${prefix}upsale`);
  },
};
