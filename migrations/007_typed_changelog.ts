// The typed change log (issue 9/14): keys instead of JSON row images, statement-level triggers on
// PostgreSQL, triggers that fit MySQL 5.6 / MariaDB 10.1's one slot per table, timing and event.
// Upgrading from the first release replaces its triggers and functions and converts the rows
// waiting in its change log (migrations/capture/pg.ts, mysql.ts), so nothing queued is lost. In
// debezium mode it only upgrades trigger capture left from an earlier trigger mode, if any.
import { installTriggerCapture } from './capture/index.js';
import { captureNames } from './capture/names.js';
import type { Migration } from './types.js';

export const typedChangelog: Migration = {
  name: '007_typed_changelog',
  async up(knex, ctx) {
    const v1 = await knex.schema.hasTable(captureNames(ctx.prefix).v1.changelog);
    if (ctx.captureMode === 'triggers' || v1) await installTriggerCapture(knex, ctx);
  },
  async down() {
    // 002 removes the capture objects, whichever release installed them
  },
};
