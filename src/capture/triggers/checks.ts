// Is trigger capture in place and able to work? Used by `doctor`, by `run` (periodically, logged as
// errors and shown on /health) and by `migrate` (a trigger whose definer is gone is re-created).
//
// Two kinds of trouble: an object that is missing or no longer what `migrate` installed (a
// LANBilling upgrade drops "alien" triggers; migrations/capture/objects.ts), and, on
// MySQL/MariaDB, a trigger DEFINER that no longer exists or lacks what the triggers need: then
// every billing write to that table fails, which is worse than not capturing it.
import type { Knex } from 'knex';
import {
  captureNames,
  describeInspection,
  inspectTriggerCapture,
} from '../../../migrations/capture/index.js';
import { captureTriggersMysql } from '../../../migrations/capture/mysql.js';
import type { MigrationContext } from '../../../migrations/types.js';
import { CAPTURED_TABLES } from '../types.js';
import { accountOf, missingPrivileges, type Need } from './grants.js';

export interface DefinerReport {
  /** each definer of the capture triggers and what is wrong with it; empty list = all fine */
  definers: {
    definer: string;
    triggers: string[];
    exists: boolean | null;
    missing: Need[];
    error?: string;
  }[];
}

const errno = (err: unknown) => (err as { errno?: number }).errno;

/** The grants of an account, or null when it doesn't exist; throws when they can't be read. */
async function grantsOf(knex: Knex, definer: string): Promise<string[] | null> {
  const { user, host } = accountOf(definer);
  try {
    const [rows] = await knex.raw('SHOW GRANTS FOR ?@?', [user, host]);
    return (rows as Record<string, unknown>[]).map((r) => String(Object.values(r)[0]));
  } catch (err) {
    // ER_NONEXISTING_GRANT: "There is no such grant defined for user ..."
    if (errno(err) === 1141) return null;
    throw err;
  }
}

export async function checkDefiners(knex: Knex, ctx: MigrationContext): Promise<DefinerReport> {
  const n = captureNames(ctx.prefix);
  const triggers = await captureTriggersMysql(knex, n);
  const [[{ db }]] = (await knex.raw('SELECT DATABASE() AS db')) as [[{ db: string }]];
  const byDefiner = new Map<string, string[]>();
  for (const t of triggers) byDefiner.set(t.definer, [...(byDefiner.get(t.definer) ?? []), t.name]);
  const needs: Need[] = [
    { privilege: 'INSERT', table: n.changes },
    ...CAPTURED_TABLES.flatMap((table) => [
      { privilege: 'SELECT' as const, table },
      { privilege: 'TRIGGER' as const, table },
    ]),
  ];
  const definers: DefinerReport['definers'] = [];
  for (const [definer, names] of byDefiner) {
    try {
      const lines = await grantsOf(knex, definer);
      definers.push({
        definer,
        triggers: names,
        exists: lines !== null,
        missing: lines === null ? [] : missingPrivileges(lines, db, needs),
      });
    } catch (err) {
      definers.push({ definer, triggers: names, exists: null, missing: [], error: (err as Error).message });
    }
  }
  return { definers };
}

const privilegeList = (missing: Need[]) => {
  const by = new Map<string, string[]>();
  for (const m of missing) by.set(m.privilege, [...(by.get(m.privilege) ?? []), m.table]);
  return [...by].map(([p, tables]) => `${p} on ${tables.join(', ')}`).join('; ');
};

/** The definer report as operator messages: failures (writes fail) and warnings (can't tell). */
export function describeDefiners(r: DefinerReport): { fail: string[]; warn: string[] } {
  const fail: string[] = [];
  const warn: string[] = [];
  for (const d of r.definers) {
    const who = `'${accountOf(d.definer).user}'@'${accountOf(d.definer).host}'`;
    if (d.exists === false)
      fail.push(
        `the capture triggers' definer ${who} does not exist: every billing write to a captured table fails ` +
          `(error 1449). Run \`lbcore-lifestream migrate\` as an existing account to re-create the triggers ` +
          `under it, or re-create ${who} with the grants in the README`,
      );
    else if (d.exists === null)
      warn.push(
        `cannot read the grants of the capture triggers' definer ${who} (${d.error}): make sure it exists and ` +
          'holds INSERT on the change log and SELECT and TRIGGER on the captured tables',
      );
    else if (d.missing.length > 0)
      fail.push(
        `the capture triggers' definer ${who} lacks ${privilegeList(d.missing)}: billing writes to those ` +
          'tables fail until it is granted (see the README, grants)',
      );
  }
  return { fail, warn };
}

/** Every problem of trigger capture, as operator messages (empty = in place and able to work). */
export async function triggerCaptureProblems(knex: Knex, ctx: MigrationContext): Promise<string[]> {
  const out = describeInspection(await inspectTriggerCapture(knex, ctx), ctx);
  if (ctx.dialect === 'mysql') out.push(...describeDefiners(await checkDefiners(knex, ctx)).fail);
  return out;
}
