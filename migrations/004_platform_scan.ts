// The platform scan's memory (src/state/platform-seen.ts): one row per periodic scan, and per
// platform account the changes made on the platform that the last scan to see it found pending.
// A change is acted on only when two consecutive scans saw it, so this must survive a restart;
// accounts without pending changes have no row, which keeps the table small.
import type { Migration } from './types.js';

export const platformScan: Migration = {
  name: '004_platform_scan',
  async up(knex, { prefix, dialect }) {
    await knex.schema.createTable(`${prefix}platform_scans`, (t) => {
      t.bigInteger('scan_no').primary();
      t.dateTime('started_at', { useTz: false }).notNullable();
      t.dateTime('finished_at', { useTz: false }).nullable();
      /** every page of GET /v2/accounts was read */
      t.boolean('complete').notNullable().defaultTo(false);
      t.integer('accounts').notNullable().defaultTo(0);
      /** accounts with a change to write (due or not) */
      t.integer('changing').notNullable().defaultTo(0);
      /** changed more than smotreshka.scanMaxChangeShare of the accounts: nothing was written */
      t.boolean('suspicious').notNullable().defaultTo(false);
      /** JSON: why it stopped early, or the list kept for the operator when suspicious */
      t.text('detail', dialect === 'mysql' ? 'mediumtext' : undefined).nullable();
    });
    await knex.schema.createTable(`${prefix}platform_seen`, (t) => {
      const id = t.string('platform_id', 64).notNullable();
      // platform ids are opaque: compare them byte for byte (MySQL's default is case-insensitive)
      if (dialect === 'mysql') id.collate('utf8mb4_bin');
      t.primary(['platform_id']);
      t.integer('vg_id').nullable();
      t.string('username', 128).notNullable();
      /** JSON {changeKey: first seen (ISO)}: e.g. {"off:5010": "2026-01-01T10:00:00.000Z"} */
      t.text('pending').notNullable();
      /** the scan that saw it last */
      t.bigInteger('scan_no').notNullable();
      t.dateTime('seen_at', { useTz: false }).notNullable();
    });
  },
  async down(knex, { prefix }) {
    await knex.schema.dropTableIfExists(`${prefix}platform_seen`);
    await knex.schema.dropTableIfExists(`${prefix}platform_scans`);
  },
};
