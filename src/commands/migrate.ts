// `migrate`: installs (or with --uninstall removes) the service's own objects in the billing
// database. Never touches LANBilling's own tables' structure. In debezium mode it then creates the
// capture topics and registers the connector on Kafka Connect (src/capture/debezium/install.ts);
// --uninstall deletes the connector before the database side drops the replication slot.
import type { Command } from 'commander';
import { migrationContext, openKnex } from '../app.js';
import { installConnector, uninstallConnector } from '../capture/debezium/install.js';
import { redactUrl } from '../config.js';
import { migrateDown, migrateUp, migrationStatus } from '../state/migrate.js';
import { configAndLogger } from './common.js';

export function registerMigrate(program: Command) {
  program
    .command('migrate')
    .description(
      "install the service's own tables and its capture objects in the billing database (trigger mode: triggers; " +
        'debezium mode: publication, heartbeat table, replica identity, then, once the connector user\'s privileges are checked ' +
        '(the missing GRANT / ALTER ROLE lines are printed), the topics and the connector on Kafka Connect, which must stay RUNNING ' +
        'for capture.connect.settleMs); idempotent',
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
          if (config.capture.mode === 'debezium') {
            // first, or the running connector would create the replication slot again
            const connector = await uninstallConnector(config, knex);
            process.stdout.write(connector ? `connector ${connector} deleted from ${config.capture.connect.url}\n` : 'no connector to delete\n');
          }
          const removed = await migrateDown(knex, ctx);
          logger.info({ database: where, removed }, 'service objects removed');
          process.stdout.write(`removed: ${removed.join(', ') || '(nothing was installed)'}\n`);
        } else {
          const applied = await migrateUp(knex, ctx);
          logger.info({ database: where, applied }, 'migrations applied');
          process.stdout.write(`applied: ${applied.join(', ') || '(already up to date)'}\n`);
          if (config.capture.mode === 'debezium') {
            for (const line of await installConnector(config, knex, logger)) process.stdout.write(`${line}\n`);
          }
        }
      } finally {
        await knex.destroy();
      }
    });
}
