// The record of what `migrate` installed: per capture trigger and function, a hash of the
// definition the service generated (`spec`) and a hash of the definition the server reported right
// after creating it (`fingerprint`). LANBilling's upgrades may drop or recreate triggers they don't
// know; comparing the server's definition now with the fingerprint tells a dropped or altered
// object from an intact one without having to predict how each server version prints a
// definition, and comparing specs tells an object a newer release of the service defines
// differently (migrate replaces those too).
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { CapturedTable } from '../../src/capture/types.js';

export type ObjectKind = 'trigger' | 'function';

/** An object the service wants in place, as it would create it now. */
export interface WantedObject {
  name: string;
  kind: ObjectKind;
  /** the billing table a trigger is on */
  table: CapturedTable | null;
  /** the definition as generated (a hash of it is recorded) */
  spec: string;
}

export interface RecordedObject {
  spec: string;
  fingerprint: string;
}

/** definer-gone: MySQL/MariaDB, the account a trigger runs as no longer exists */
export type ObjectProblemKind = 'missing' | 'altered' | 'outdated' | 'definer-gone';

export interface ObjectProblem {
  name: string;
  kind: ObjectKind;
  table: CapturedTable | null;
  problem: ObjectProblemKind;
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export async function createObjectsTable(knex: Knex, table: string): Promise<void> {
  if (await knex.schema.hasTable(table)) return;
  await knex.schema.createTable(table, (t) => {
    t.string('name', 64).primary();
    t.string('kind', 16).notNullable();
    t.string('on_table', 64).nullable();
    /** sha256 of the definition the service generated */
    t.string('spec', 64).notNullable();
    /** sha256 of the definition the server reported after creating it */
    t.string('fingerprint', 64).notNullable();
    t.dateTime('installed_at', { useTz: false }).notNullable();
  });
}

export async function readRecorded(knex: Knex, table: string): Promise<Map<string, RecordedObject>> {
  if (!(await knex.schema.hasTable(table))) return new Map();
  const rows = await knex(table).select('name', 'spec', 'fingerprint');
  return new Map(
    rows.map((r) => [String(r.name), { spec: String(r.spec), fingerprint: String(r.fingerprint) }]),
  );
}

export async function record(knex: Knex, table: string, o: WantedObject, fingerprint: string): Promise<void> {
  const row = {
    name: o.name,
    kind: o.kind,
    on_table: o.table,
    spec: sha256(o.spec),
    fingerprint,
    installed_at: new Date(),
  };
  await knex(table).insert(row).onConflict('name').merge();
}

/**
 * What is wrong with each wanted object: gone, changed by someone else since it was installed, or
 * installed from an older definition (or never recorded: a first release's object). Pure.
 */
export function problemsOf(
  wanted: WantedObject[],
  live: Map<string, string>,
  recorded: Map<string, RecordedObject>,
): ObjectProblem[] {
  const out: ObjectProblem[] = [];
  for (const o of wanted) {
    const now = live.get(o.name);
    const rec = recorded.get(o.name);
    const problem: ObjectProblemKind | null =
      now === undefined
        ? 'missing'
        : rec === undefined
          ? 'outdated'
          : rec.fingerprint !== now
            ? 'altered'
            : rec.spec !== sha256(o.spec)
              ? 'outdated'
              : null;
    if (problem) out.push({ name: o.name, kind: o.kind, table: o.table, problem });
  }
  return out;
}

/** One line per problem, naming the object and saying what restores it. */
export function describeProblem(p: ObjectProblem): string {
  const what = p.table ? `${p.kind} ${p.name} on ${p.table}` : `${p.kind} ${p.name}`;
  switch (p.problem) {
    case 'missing':
      return `capture ${what} is missing (a LANBilling upgrade drops triggers it doesn't know): changes there are not captured; \`lbcore-lifestream migrate\` restores it`;
    case 'altered':
      return `capture ${what} is no longer what the service installed (changed or recreated since): \`lbcore-lifestream migrate\` restores it`;
    case 'outdated':
      return `capture ${what} is from an older release of the service: \`lbcore-lifestream migrate\` replaces it`;
    case 'definer-gone':
      return `capture ${what} runs as an account that no longer exists: every billing write there fails (error 1449); \`lbcore-lifestream migrate\` re-creates it under the account that runs it`;
  }
}
