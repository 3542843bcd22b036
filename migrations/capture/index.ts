// Trigger capture: the typed change log and the triggers on the captured LANBilling tables (pg.ts,
// mysql.ts), with the record of what was installed (objects.ts). Installed by migration 002 in
// trigger mode, brought up to date by every `migrate` in trigger mode (a dropped or altered
// trigger is restored, an older release's objects are replaced and its change log converted),
// removed by `migrate --uninstall` whatever the mode.
import type { Knex } from 'knex';
import type { MigrationContext } from '../types.js';
import { inspectMysql, installMysql, precheckMysql, removeMysql } from './mysql.js';
import { captureNames } from './names.js';
import { describeProblem, type ObjectProblem } from './objects.js';
import { checkPgServer, inspectPg, installPg, removePg } from './pg.js';

export { type CaptureNames, captureNames } from './names.js';
export { describeProblem, type ObjectProblem } from './objects.js';

/** Creates what is missing, replaces what is altered or outdated; returns what it (re)created. */
export async function installTriggerCapture(knex: Knex, ctx: MigrationContext): Promise<string[]> {
  const n = captureNames(ctx.prefix);
  return ctx.dialect === 'pg' ? installPg(knex, n) : installMysql(knex, n);
}

/** Throws, before anything is created, when this server can't carry trigger capture (and why). */
export async function precheckTriggerCapture(knex: Knex, ctx: MigrationContext): Promise<void> {
  if (ctx.dialect === 'pg') await checkPgServer(knex);
  else await precheckMysql(knex, captureNames(ctx.prefix));
}

export async function removeTriggerCapture(knex: Knex, ctx: MigrationContext): Promise<void> {
  const n = captureNames(ctx.prefix);
  if (ctx.dialect === 'pg') await removePg(knex, n);
  else await removeMysql(knex, n);
}

export interface CaptureInspection {
  /** the change log itself is gone */
  tableMissing: boolean;
  /** triggers/functions missing, altered since installed, or from an older release */
  problems: ObjectProblem[];
}

export async function inspectTriggerCapture(knex: Knex, ctx: MigrationContext): Promise<CaptureInspection> {
  const n = captureNames(ctx.prefix);
  return ctx.dialect === 'pg' ? inspectPg(knex, n) : inspectMysql(knex, n);
}

/** The inspection as operator messages (empty = capture intact). */
export function describeInspection(i: CaptureInspection, ctx: MigrationContext): string[] {
  const n = captureNames(ctx.prefix);
  return [
    ...(i.tableMissing
      ? [
          `the change log ${n.changes} is missing: nothing can be captured; \`lbcore-lifestream migrate\` creates it`,
        ]
      : []),
    ...i.problems.map(describeProblem),
  ];
}
