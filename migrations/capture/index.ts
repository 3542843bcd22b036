// Trigger capture: the change-log table and the row triggers on the captured LANBilling tables
// (pg.ts, mysql.ts). Installed by migration 002 in trigger mode, topped up by every `migrate` in
// trigger mode (so a dropped trigger or a switch from debezium mode is repaired), removed by
// `migrate --uninstall` whatever the mode.
import type { Knex } from 'knex';
import type { MigrationContext } from '../types.js';
import { installMysql, missingMysql, removeMysql } from './mysql.js';
import { captureNames } from './names.js';
import { installPg, missingPg, removePg } from './pg.js';

export { type CaptureNames, captureNames } from './names.js';

export async function installTriggerCapture(knex: Knex, ctx: MigrationContext): Promise<void> {
  const n = captureNames(ctx.prefix);
  if (ctx.dialect === 'pg') await installPg(knex, n);
  else await installMysql(knex, n);
}

export async function removeTriggerCapture(knex: Knex, ctx: MigrationContext): Promise<void> {
  const n = captureNames(ctx.prefix);
  if (ctx.dialect === 'pg') await removePg(knex, n);
  else await removeMysql(knex, n);
}

/** Capture objects (change log, triggers) that should exist but don't; empty when fully installed. */
export async function missingCaptureObjects(knex: Knex, ctx: MigrationContext): Promise<string[]> {
  const n = captureNames(ctx.prefix);
  return ctx.dialect === 'pg' ? missingPg(knex, n) : missingMysql(knex, n);
}
