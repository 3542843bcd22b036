// Propagation: the durable per-account queue (both capture modes feed it) and, in trigger mode,
// the change-log table with the capture triggers on the billing tables (migrations/capture/).
//
// `<prefix>pending` holds the accounts that must be reconciled: one row per account however many
// changes arrived (a burst coalesces into a bumped `seq`), so a crash or a stop loses nothing and
// a worker deletes the row only when the `seq` it reconciled is still the latest.
import { installTriggerCapture, removeTriggerCapture } from './capture/index.js';
import type { Migration } from './types.js';

export const propagation: Migration = {
  name: '002_propagation',
  async up(knex, ctx) {
    const { prefix } = ctx;
    await knex.schema.createTable(`${prefix}pending`, (t) => {
      t.integer('vg_id').primary();
      /** bumped on every enqueue: "something changed since you started" */
      t.bigInteger('seq').notNullable().defaultTo(1);
      /** what asked last: a billing table name, or `timer` */
      t.string('reason', 64).notNullable();
      /** where the last change came from (change-log id, topic/partition/offset), kept when parking */
      t.string('source', 255).nullable();
      /** runs started without completing (a crash, a transient failure): drives the back-off, and makes the next run a recovery run */
      t.integer('attempts').notNullable().defaultTo(0);
      /** not to be reconciled before: debounce, back-off, spacing of a hot account */
      t.dateTime('not_before', { useTz: false, precision: 3 }).notNullable();
      /** when the account was first queued since its last reconcile: the queue's age */
      t.dateTime('enqueued_at', { useTz: false, precision: 3 }).notNullable();
      t.text('last_error').nullable();
      t.index(['not_before'], `${prefix}pending_not_before`);
    });
    if (ctx.captureMode === 'triggers') await installTriggerCapture(knex, ctx);
  },
  async down(knex, ctx) {
    // whatever the mode is now: triggers installed under another configuration go too
    await removeTriggerCapture(knex, ctx);
    await knex.schema.dropTableIfExists(`${ctx.prefix}pending`);
  },
};
