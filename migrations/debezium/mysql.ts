// Debezium capture on MySQL/MariaDB: nothing to create in the billing's schema besides the
// consumer's `<prefix>capture_errors`, but the server must write a binlog Debezium can read. These
// are server settings (my.cnf, a restart for some) that `migrate` can't and mustn't change, so it
// checks them and refuses with the exact lines to set.
import type { Knex } from 'knex';
import { debeziumRefusal, parseMysqlVersion } from '../capture/version.js';
import { createCaptureErrorsTable } from './errors-table.js';
import type { DebeziumNames } from './names.js';

export interface BinlogSettings {
  logBin: string | null;
  binlogFormat: string | null;
  /** null on servers older than the variable (MySQL 5.6 / MariaDB 10.1.6): rows are always full there */
  binlogRowImage: string | null;
  serverId: string | null;
}

async function variable(knex: Knex, name: string): Promise<string | null> {
  const [result] = await knex.raw('SHOW GLOBAL VARIABLES LIKE ?', [name]);
  const row = (result as { Value?: unknown }[])[0];
  return row?.Value === undefined || row.Value === null ? null : String(row.Value);
}

export async function readBinlogSettings(knex: Knex): Promise<BinlogSettings> {
  return {
    logBin: await variable(knex, 'log_bin'),
    binlogFormat: await variable(knex, 'binlog_format'),
    binlogRowImage: await variable(knex, 'binlog_row_image'),
    serverId: await variable(knex, 'server_id'),
  };
}

/** What keeps Debezium from streaming this server, as my.cnf advice; empty when ready. */
export function binlogProblems(s: BinlogSettings): string[] {
  const problems: string[] = [];
  const on = (v: string | null) => v !== null && ['1', 'ON'].includes(v.toUpperCase());
  if (!on(s.logBin))
    problems.push(
      `log_bin is ${s.logBin ?? 'unset'}: the binary log is off (my.cnf: log_bin = <base name>, then restart)`,
    );
  if ((s.binlogFormat ?? '').toUpperCase() !== 'ROW')
    problems.push(`binlog_format is ${s.binlogFormat ?? 'unset'}, needs ROW (my.cnf: binlog_format = ROW)`);
  if (s.binlogRowImage !== null && s.binlogRowImage.toUpperCase() !== 'FULL') {
    problems.push(`binlog_row_image is ${s.binlogRowImage}, needs FULL (my.cnf: binlog_row_image = FULL)`);
  }
  if (!s.serverId || Number(s.serverId) === 0)
    problems.push(
      "server_id is 0: a server without one can't serve a binlog reader (my.cnf: server_id = <unique number>)",
    );
  return problems;
}

export async function checkMysqlForDebezium(knex: Knex): Promise<void> {
  // what Debezium's connectors support comes first: no my.cnf line makes MySQL 5.6 streamable
  const [[{ v }]] = (await knex.raw('SELECT VERSION() AS v')) as [[{ v: string }]];
  const unsupported = debeziumRefusal(parseMysqlVersion(String(v)));
  if (unsupported) throw new Error(unsupported);
  const problems = binlogProblems(await readBinlogSettings(knex));
  if (problems.length)
    throw new Error(`MySQL/MariaDB is not ready for Debezium capture: ${problems.join('; ')}`);
}

export async function installMysql(knex: Knex, n: DebeziumNames): Promise<void> {
  await checkMysqlForDebezium(knex);
  await createCaptureErrorsTable(knex, n.captureErrors);
}

export async function missingMysql(knex: Knex, n: DebeziumNames): Promise<string[]> {
  return (await knex.schema.hasTable(n.captureErrors)) ? [] : [n.captureErrors];
}

export async function removeMysql(knex: Knex, n: DebeziumNames): Promise<void> {
  await knex.schema.dropTableIfExists(n.captureErrors);
}

/**
 * The binlog files the server still has (SHOW BINARY LOGS), oldest first; null when this user may
 * not list them (it needs BINLOG MONITOR / REPLICATION CLIENT) or the binlog is off.
 */
export async function binlogFiles(knex: Knex): Promise<string[] | null> {
  try {
    const [rows] = await knex.raw('SHOW BINARY LOGS');
    return (rows as { Log_name: string }[]).map((r) => String(r.Log_name));
  } catch {
    return null;
  }
}

/**
 * Where the server writes its binlog now ("file:position"): SHOW MASTER STATUS, or SHOW BINARY LOG
 * STATUS on MySQL 8.4+; null when this user may not read it.
 */
export async function binlogPosition(knex: Knex): Promise<string | null> {
  for (const statement of ['SHOW MASTER STATUS', 'SHOW BINARY LOG STATUS']) {
    try {
      const [rows] = await knex.raw(statement);
      const row = (rows as { File?: string; Position?: unknown }[])[0];
      return row?.File ? `${row.File}:${String(row.Position)}` : null;
    } catch {
      // the other spelling, or no privilege
    }
  }
  return null;
}
