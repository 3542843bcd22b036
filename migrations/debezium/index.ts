// Debezium capture's objects in the billing database (pg.ts, mysql.ts). Installed by migration
// 005 in debezium mode, topped up by every `migrate` in debezium mode (so a switch from trigger
// mode, or an object an operator dropped, is repaired), removed by `migrate --uninstall` whatever
// the mode. The connector on Kafka Connect is registered by the migrate command
// (src/capture/debezium/connect.ts), not here: a migration only talks to the database.
import type { Knex } from 'knex';
import type { MigrationContext } from '../types.js';
import { checkMysqlForDebezium, installMysql, missingMysql, removeMysql } from './mysql.js';
import { debeziumNames } from './names.js';
import { checkPgForDebezium, installPg, missingPg, removePg } from './pg.js';

export { type DebeziumNames, debeziumNames } from './names.js';

/** Refuses, naming the settings to change, a server Debezium can't stream from (wal_level, binlog). */
export async function checkDebeziumServer(knex: Knex, ctx: MigrationContext): Promise<void> {
  if (ctx.dialect === 'pg') await checkPgForDebezium(knex);
  else await checkMysqlForDebezium(knex);
}

export async function installDebeziumCapture(knex: Knex, ctx: MigrationContext): Promise<void> {
  const n = debeziumNames(ctx.prefix);
  if (ctx.dialect === 'pg') await installPg(knex, n);
  else await installMysql(knex, n);
}

export async function removeDebeziumCapture(knex: Knex, ctx: MigrationContext): Promise<void> {
  const n = debeziumNames(ctx.prefix);
  if (ctx.dialect === 'pg') await removePg(knex, n);
  else await removeMysql(knex, n);
}

/** Objects debezium mode needs that don't exist; empty when fully installed. */
export async function missingDebeziumObjects(knex: Knex, ctx: MigrationContext): Promise<string[]> {
  const n = debeziumNames(ctx.prefix);
  return ctx.dialect === 'pg' ? missingPg(knex, n) : missingMysql(knex, n);
}
