// The dead-letter record of the Debezium consumer: one row per Kafka message it could not read,
// keyed by its position so that a message delivered again after a crash is one row, not two.
// Operators see it in `doctor`; the account it names (if any) is parked as well.
import type { Knex } from 'knex';

export async function createCaptureErrorsTable(knex: Knex, table: string): Promise<void> {
  if (await knex.schema.hasTable(table)) return;
  await knex.schema.createTable(table, (t) => {
    /** topic/partition/offset */
    t.string('position', 255).primary();
    t.string('topic', 249).notNullable();
    t.integer('kafka_partition').notNullable();
    t.bigInteger('kafka_offset').notNullable();
    /** the account the message names, when it still names one (then also parked) */
    t.integer('vg_id').nullable();
    t.text('error').notNullable();
    /** the start of the message value, for the operator */
    t.text('excerpt').nullable();
    t.dateTime('seen_at', { useTz: false }).notNullable();
  });
}
