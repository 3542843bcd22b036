// The dead-letter record of the Debezium consumer: one row per Kafka message it could not read,
// keyed by its position so that a message delivered again after a crash is one row, not two.
// Operators see it in `doctor`; the account it names (if any) is parked as well.
import type { Knex } from 'knex';

export async function createCaptureErrorsTable(knex: Knex, table: string): Promise<void> {
  if (await knex.schema.hasTable(table)) return;
  await knex.schema.createTable(table, (t) => {
    /** topic/partition/offset */
    t.string('position', 320).primary();
    t.string('topic', 249).notNullable();
    t.integer('kafka_partition').notNullable();
    t.bigInteger('kafka_offset').notNullable();
    /** the account the message names, when it still names one (then also parked) */
    t.integer('vg_id').nullable();
    t.text('error').notNullable();
    /** the message key (the row's primary key, no row content: images may hold subscribers' passwords) */
    t.string('message_key', 255).nullable();
    t.integer('value_bytes').nullable();
    t.dateTime('seen_at', { useTz: false }).notNullable();
  });
}
