// The capture objects the first release installed (JSON row images in <prefix>changelog, row
// triggers, on PostgreSQL a NOTIFY per statement), as that release created them: the starting
// point of the upgrade test. TEST ONLY.
import type { Knex } from 'knex';
import { CAPTURED_COLUMNS } from '../../src/capture/columns.js';
import { CAPTURED_TABLES } from '../../src/capture/types.js';

const OPS = [
  ['ins', 'INSERT'],
  ['upd', 'UPDATE'],
  ['del', 'DELETE'],
] as const;

export async function installV1(knex: Knex, dialect: 'pg' | 'mysql', prefix: string): Promise<void> {
  const log = `${prefix}changelog`;
  if (dialect === 'pg') {
    await knex.raw(`CREATE TABLE ${log} (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, table_name text NOT NULL, op char(1) NOT NULL,
      row_before jsonb, row_after jsonb, txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      created_at timestamptz NOT NULL DEFAULT now())`);
    await knex.raw(`CREATE FUNCTION ${prefix}capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO public.${log} (table_name, op, row_before, row_after)
        VALUES (TG_TABLE_NAME, left(TG_OP, 1),
          CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
        RETURN NULL;
      END $fn$`);
    await knex.raw(`CREATE FUNCTION ${prefix}notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN PERFORM pg_notify('${prefix}changes', ''); RETURN NULL; END $fn$`);
    for (const table of CAPTURED_TABLES) {
      for (const [op, event] of OPS)
        await knex.raw(
          `CREATE TRIGGER ${prefix}${table}_${op} AFTER ${event} ON ${table} FOR EACH ROW EXECUTE FUNCTION ${prefix}capture()`,
        );
      await knex.raw(
        `CREATE TRIGGER ${prefix}${table}_notify AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${prefix}notify()`,
      );
    }
    return;
  }
  await knex.raw(`CREATE TABLE ${log} (
    id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, table_name varchar(64) NOT NULL, op char(1) NOT NULL,
    row_before longtext NULL, row_after longtext NULL, txid bigint unsigned NULL, created_at datetime(6) NOT NULL
  ) ENGINE=InnoDB`);
  for (const table of CAPTURED_TABLES) {
    const image = (row: string) =>
      `JSON_OBJECT(${CAPTURED_COLUMNS[table].map((c) => `'${c}', ${row}.\`${c}\``).join(', ')})`;
    for (const [op, event] of OPS) {
      const before = op === 'ins' ? 'NULL' : image('OLD');
      const after = op === 'del' ? 'NULL' : image('NEW');
      await knex.raw(
        `CREATE TRIGGER ${prefix}${table}_${op} AFTER ${event} ON ${table} FOR EACH ROW
         INSERT INTO ${log} (table_name, op, row_before, row_after, created_at)
         VALUES ('${table}', '${op[0]!.toUpperCase()}', ${before}, ${after}, UTC_TIMESTAMP(6))`,
      );
    }
  }
}
