// Debezium capture (capture.mode: debezium): on PostgreSQL the heartbeat table, REPLICA IDENTITY
// FULL on the captured tables (remembering what they had) and the publication; on MySQL/MariaDB a
// check of the binlog settings; on both the consumer's table of unreadable messages. In trigger
// mode it does nothing: `migrate` in debezium mode adds whatever is missing later (src/state/migrate.ts),
// so the order of mode switches doesn't matter. See migrations/debezium/.
import { installDebeziumCapture, removeDebeziumCapture } from './debezium/index.js';
import type { Migration } from './types.js';

export const debeziumCapture: Migration = {
  name: '005_debezium_capture',
  async up(knex, ctx) {
    if (ctx.captureMode === 'debezium') await installDebeziumCapture(knex, ctx);
  },
  async down(knex, ctx) {
    // whatever the mode is now: objects installed under another configuration go too
    await removeDebeziumCapture(knex, ctx);
  },
};
