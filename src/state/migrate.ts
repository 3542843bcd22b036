// Installs and removes the service's own objects in the billing database. Uses knex's migrator
// with a static source and its own bookkeeping table, named with the service's prefix so that an
// operator sees at a glance what belongs to us.
import type { Knex } from 'knex';
import {
  inspectTriggerCapture,
  installTriggerCapture,
  precheckTriggerCapture,
} from '../../migrations/capture/index.js';
import {
  checkDebeziumServer,
  installDebeziumCapture,
  missingDebeziumObjects,
} from '../../migrations/debezium/index.js';
import { type MigrationContext, migrations } from '../../migrations/index.js';

function migrator(_knex: Knex, ctx: MigrationContext) {
  const source: Knex.MigrationSource<(typeof migrations)[number]> = {
    getMigrations: async () => migrations,
    getMigrationName: (m) => m.name,
    getMigration: async (m) => ({ up: (k: Knex) => m.up(k, ctx), down: (k: Knex) => m.down(k, ctx) }),
  };
  return {
    config: {
      migrationSource: source,
      tableName: `${ctx.prefix}migrations`,
      // one migration per transaction: MySQL DDL isn't transactional anyway
      disableTransactions: ctx.dialect === 'mysql',
    } satisfies Knex.MigratorConfig,
  };
}

/**
 * Applies every pending migration; returns the names applied now. It also restores the configured
 * mode's capture objects that are missing although their migration ran (migrations first applied
 * in the other mode, or a trigger, publication or heartbeat table dropped since) and, in trigger
 * mode, replaces a trigger or function that is no longer what it installed (altered by someone, or
 * defined differently by this release). Nothing intact is touched. In debezium mode the server's
 * settings are checked every time.
 */
export async function migrateUp(knex: Knex, ctx: MigrationContext): Promise<string[]> {
  // a server that can't carry the triggers is refused before anything is created (MySQL DDL
  // isn't transactional: a migration failing halfway would leave its first tables behind)
  if (ctx.captureMode === 'triggers') await precheckTriggerCapture(knex, ctx);
  const [, applied] = (await knex.migrate.latest(migrator(knex, ctx).config)) as [number, string[]];
  if (ctx.captureMode === 'triggers') {
    const found = await inspectTriggerCapture(knex, ctx);
    if (found.tableMissing || found.problems.length > 0) {
      const done = await installTriggerCapture(knex, ctx);
      const why = new Map(found.problems.map((p) => [p.name, p.problem]));
      applied.push(
        `capture objects restored: ${done.map((name) => `${name} (${why.get(name) ?? 'missing'})`).join(', ') || 'the change log'}`,
      );
    }
  } else {
    // debezium mode: the server settings every time (they can change under us), then top up
    await checkDebeziumServer(knex, ctx);
    const missing = await missingDebeziumObjects(knex, ctx);
    if (missing.length > 0) {
      if (ctx.dialect === 'pg') await knex.transaction((trx) => installDebeziumCapture(trx, ctx));
      else await installDebeziumCapture(knex, ctx);
      applied.push(`debezium capture objects added: ${missing.join(', ')}`);
    }
  }
  return applied;
}

/** Rolls back every migration and drops the bookkeeping tables: removes all the service added. */
export async function migrateDown(knex: Knex, ctx: MigrationContext): Promise<string[]> {
  const cfg = migrator(knex, ctx).config;
  const [, reverted] = (await knex.migrate.rollback(cfg, true)) as [number, string[]];
  await knex.schema.dropTableIfExists(`${ctx.prefix}migrations_lock`);
  await knex.schema.dropTableIfExists(`${ctx.prefix}migrations`);
  return reverted;
}

export async function migrationStatus(
  knex: Knex,
  ctx: MigrationContext,
): Promise<{ applied: string[]; pending: string[] }> {
  const [done, pending] = (await knex.migrate.list(migrator(knex, ctx).config)) as [
    { name: string }[],
    { file: string }[] | (typeof migrations)[number][],
  ];
  return {
    applied: done.map((d) => (typeof d === 'string' ? d : d.name)),
    pending: (pending as unknown[]).map(
      (p) => (p as { name?: string }).name ?? String((p as { file?: string }).file),
    ),
  };
}
