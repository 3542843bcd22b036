// `migrate`: installs (or with --uninstall removes) the service's own objects in the billing
// database. Never touches LANBilling's own tables' structure.
import type { Command } from 'commander';
import { migrationContext, openKnex } from '../app.js';
import { redactUrl } from '../config.js';
import { migrateDown, migrateUp, migrationStatus } from '../state/migrate.js';
import { configAndLogger } from './common.js';

export function registerMigrate(program: Command) {
  program
    .command('migrate')
    .description(
      "install the service's own tables (and, in trigger mode, its capture triggers) in the billing database; idempotent",
    )
    .option('--uninstall', 'remove every object the service added, and nothing else')
    .option('--status', 'list applied and pending migrations, change nothing')
    .action(async (opts: { uninstall?: boolean; status?: boolean }, cmd: Command) => {
      const { config, logger } = configAndLogger(cmd);
      const knex = openKnex(config);
      const ctx = migrationContext(config);
      const where = redactUrl(config.billing.connection);
      try {
        if (opts.status) {
          const s = await migrationStatus(knex, ctx);
          process.stdout.write(`${where}\napplied: ${s.applied.join(', ') || '(none)'}\npending: ${s.pending.join(', ') || '(none)'}\n`);
        } else if (opts.uninstall) {
          const removed = await migrateDown(knex, ctx);
          logger.info({ database: where, removed }, 'service objects removed');
          process.stdout.write(`removed: ${removed.join(', ') || '(nothing was installed)'}\n`);
        } else {
          const applied = await migrateUp(knex, ctx);
          logger.info({ database: where, applied }, 'migrations applied');
          process.stdout.write(`applied: ${applied.join(', ') || '(already up to date)'}\n`);
        }
      } finally {
        await knex.destroy();
      }
    });
}
