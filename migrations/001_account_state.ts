// The service's own memory of each account: the platform account id it maps to, what it last
// applied there (subscriptions and pushed account state, which the platform can't be asked for),
// the durable timer for its next timefrom/timeto, and accounts parked by a permanent error.
import type { Migration } from './types.js';

export const accountState: Migration = {
  name: '001_account_state',
  async up(knex, { prefix }) {
    await knex.schema.createTable(`${prefix}accounts`, (t) => {
      t.integer('vg_id').primary();
      t.string('platform_id', 64).nullable();
      t.string('username', 128).notNullable();
      /** JSON array of subscription ids as last seen/applied on the platform */
      t.text('subscriptions').nullable();
      /** JSON of the last account-state pushed */
      t.text('account_state').nullable();
      /** stateTimestamp of that push, ms since epoch */
      t.bigInteger('state_ts').nullable();
      /** durable timer: when the account's desired state next changes by time alone */
      t.dateTime('next_at', { useTz: false }).nullable().index(`${prefix}accounts_next_at`);
      t.dateTime('updated_at', { useTz: false }).notNullable();
      t.index(['username'], `${prefix}accounts_username`);
    });
    await knex.schema.createTable(`${prefix}parked`, (t) => {
      t.integer('vg_id').primary();
      /** short machine-readable reason, e.g. platform error kind or mapping issue */
      t.string('reason', 64).notNullable();
      t.text('detail').notNullable();
      /** where the change came from (e.g. a Kafka topic/partition/offset), when known */
      t.text('source').nullable();
      t.integer('attempts').notNullable().defaultTo(1);
      t.dateTime('first_at', { useTz: false }).notNullable();
      t.dateTime('last_at', { useTz: false }).notNullable();
    });
  },
  async down(knex, { prefix }) {
    await knex.schema.dropTableIfExists(`${prefix}parked`);
    await knex.schema.dropTableIfExists(`${prefix}accounts`);
  },
};
