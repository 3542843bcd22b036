// Before `migrate` registers the connector: may the connector's database user do what Debezium
// does? A connector registered without them is accepted by Kafka Connect, RUNNING for a second,
// then FAILED (MySQL/MariaDB) or RUNNING and retrying for ever (PostgreSQL), and nothing flows.
// So the grants are checked first and, when any is missing, `migrate` stops with the exact
// statements a DBA runs.
//
// - PostgreSQL (checked in the catalog, from the service's session): the role exists, may LOGIN
//   and has REPLICATION (or is superuser); it may USAGE the schema, SELECT the captured tables and
//   INSERT/UPDATE the heartbeat table (Debezium runs heartbeat.action.query as that user). The
//   service's own user needs CREATE on the database to create the publication (its table ownership
//   is checked when the publication is made: migrations/debezium/pg.ts prints the SQL then).
// - MySQL/MariaDB (SHOW GRANTS in a session of the connector's user, so that the grants are the
//   ones it really gets): SELECT (on *.* or the billing database), RELOAD, SHOW DATABASES,
//   REPLICATION SLAVE, REPLICATION CLIENT; on MariaDB >= 10.5 the latter is BINLOG MONITOR
//   (SHOW GRANTS prints it so). Grants through roles are not expanded: grant directly.
import type { Knex } from 'knex';
import { openBilling } from '../../src/billing/connect.js';
import { CAPTURED_TABLES } from '../../src/capture/types.js';
import { parseMysqlVersion } from '../capture/version.js';

export interface PrivilegeReport {
  /** who was checked */
  user: string;
  /** what is missing, readable */
  missing: string[];
  /** the statements that give it (run by a DBA) */
  statements: string[];
}

const pq = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

export interface PgRoleFacts {
  exists: boolean;
  login: boolean;
  replication: boolean;
  superuser: boolean;
  schemaUsage: boolean;
  /** captured tables it may not SELECT */
  noSelect: string[];
  /** heartbeat table privileges it lacks (INSERT, UPDATE) */
  heartbeatMissing: string[];
  /** the service's own user may CREATE in the database (a publication) */
  serviceMayCreate: boolean;
  serviceUser: string;
  database: string;
}

/** Pure: what a PostgreSQL role lacks for the connector, and the SQL that gives it. */
export function pgPrivilegeReport(
  user: string,
  schema: string,
  heartbeat: string,
  f: PgRoleFacts,
): PrivilegeReport {
  const t = (name: string) => `${pq(schema)}.${pq(name)}`;
  const missing: string[] = [];
  const statements: string[] = [];
  if (!f.exists) {
    missing.push(`role ${user} does not exist`);
    statements.push(`CREATE ROLE ${pq(user)} LOGIN REPLICATION PASSWORD '<password>';`);
  } else {
    if (!f.login && !f.superuser) {
      missing.push('LOGIN');
      statements.push(`ALTER ROLE ${pq(user)} LOGIN;`);
    }
    if (!f.replication && !f.superuser) {
      missing.push('REPLICATION');
      statements.push(`ALTER ROLE ${pq(user)} REPLICATION;`);
    }
  }
  if (!f.superuser) {
    if (!f.schemaUsage) {
      missing.push(`USAGE on schema ${schema}`);
      statements.push(`GRANT USAGE ON SCHEMA ${pq(schema)} TO ${pq(user)};`);
    }
    if (f.noSelect.length) {
      missing.push(`SELECT on ${f.noSelect.join(', ')}`);
      statements.push(`GRANT SELECT ON ${f.noSelect.map(t).join(', ')} TO ${pq(user)};`);
    }
    if (f.heartbeatMissing.length) {
      missing.push(`${f.heartbeatMissing.join(', ')} on ${heartbeat}`);
      statements.push(`GRANT ${f.heartbeatMissing.join(', ')} ON ${t(heartbeat)} TO ${pq(user)};`);
    }
  }
  if (!f.serviceMayCreate) {
    missing.push(
      `CREATE on database ${f.database} for the service's user ${f.serviceUser} (the publication)`,
    );
    statements.push(`GRANT CREATE ON DATABASE ${pq(f.database)} TO ${pq(f.serviceUser)};`);
  }
  return { user, missing, statements };
}

export async function pgRoleFacts(
  knex: Knex,
  user: string,
  heartbeat: string,
): Promise<PgRoleFacts & { schema: string }> {
  const r = await knex.raw(
    `SELECT current_schema() AS schema, current_user AS me, current_database() AS db,
            has_database_privilege(current_user, current_database(), 'CREATE') AS may_create`,
  );
  const { schema, me, db, may_create } = r.rows[0] as {
    schema: string;
    me: string;
    db: string;
    may_create: boolean;
  };
  const role = (
    await knex.raw('SELECT rolcanlogin, rolreplication, rolsuper FROM pg_roles WHERE rolname = ?', [user])
  ).rows[0] as { rolcanlogin: boolean; rolreplication: boolean; rolsuper: boolean } | undefined;
  const base = { serviceMayCreate: may_create, serviceUser: me, database: db, schema };
  if (!role)
    return {
      ...base,
      exists: false,
      login: false,
      replication: false,
      superuser: false,
      schemaUsage: false,
      noSelect: [...CAPTURED_TABLES],
      heartbeatMissing: ['INSERT', 'UPDATE'],
    };
  const tableRights = async (table: string, right: string): Promise<boolean> => {
    const q = await knex.raw(
      `SELECT CASE WHEN to_regclass(?) IS NULL THEN true ELSE has_table_privilege(?, to_regclass(?), ?) END AS ok`,
      [`${pq(schema)}.${pq(table)}`, user, `${pq(schema)}.${pq(table)}`, right],
    );
    return Boolean(q.rows[0].ok);
  };
  const noSelect: string[] = [];
  for (const table of CAPTURED_TABLES) if (!(await tableRights(table, 'SELECT'))) noSelect.push(table);
  const heartbeatMissing: string[] = [];
  for (const right of ['INSERT', 'UPDATE'])
    if (!(await tableRights(heartbeat, right))) heartbeatMissing.push(right);
  const usage = await knex.raw('SELECT has_schema_privilege(?, ?, ?) AS ok', [user, schema, 'USAGE']);
  return {
    ...base,
    exists: true,
    login: role.rolcanlogin,
    replication: role.rolreplication,
    superuser: role.rolsuper,
    schemaUsage: Boolean(usage.rows[0].ok),
    noSelect,
    heartbeatMissing,
  };
}

/** Pure: the privileges missing from a MySQL/MariaDB user's SHOW GRANTS lines. */
export function mysqlMissingPrivileges(grants: string[], database: string, binlogMonitor: boolean): string[] {
  const global = new Set<string>();
  const onDb = new Set<string>();
  const unquote = (s: string) => s.replace(/[`'"]/g, '');
  for (const line of grants) {
    const m = /^GRANT\s+(.+?)\s+ON\s+(\S+)\s+TO\s/i.exec(line.trim());
    if (!m) continue;
    const privs = m[1]!.split(',').map((p) => p.trim().toUpperCase());
    const on = unquote(m[2]!);
    const target = on === '*.*' ? global : on === `${database}.*` ? onDb : null;
    if (!target) continue;
    for (const p of privs) target.add(p === 'ALL' ? 'ALL PRIVILEGES' : p);
  }
  if (global.has('ALL PRIVILEGES')) return [];
  const needed = [
    'RELOAD',
    'SHOW DATABASES',
    'REPLICATION SLAVE',
    binlogMonitor ? 'BINLOG MONITOR' : 'REPLICATION CLIENT',
  ];
  const missing: string[] = [];
  if (!global.has('SELECT') && !onDb.has('SELECT') && !onDb.has('ALL PRIVILEGES')) missing.push('SELECT');
  for (const p of needed) {
    // MariaDB >= 10.5 prints a granted REPLICATION CLIENT as BINLOG MONITOR; older servers the other way round
    if (p === 'BINLOG MONITOR' && global.has('REPLICATION CLIENT')) continue;
    if (!global.has(p)) missing.push(p);
  }
  return missing;
}

/** The account SHOW GRANTS names ('user'@'host'), to grant to exactly it. */
export function grantee(grants: string[], user: string): string {
  for (const line of grants) {
    const m = /\sTO\s+(\S+@\S+)/i.exec(line);
    if (m) return m[1]!.replace(/\s.*$/, '');
  }
  return `'${user}'@'%'`;
}

export function mysqlGrantStatements(account: string, missing: string[]): string[] {
  return missing.length ? [`GRANT ${missing.join(', ')} ON *.* TO ${account};`] : [];
}

/** Logs in as the connector's user and reads its grants. */
export async function mysqlPrivilegeReport(
  connection: string,
  login: { user: string; password: string },
  database: string,
): Promise<PrivilegeReport> {
  const url = new URL(connection);
  url.username = encodeURIComponent(login.user);
  url.password = encodeURIComponent(login.password);
  // no database: a user without any grant can still log in and show what it lacks
  url.pathname = '/';
  const knex = openBilling('mysql', url.toString(), { min: 0, max: 1 });
  try {
    let grants: string[];
    let version: string;
    try {
      const [v] = await knex.raw('SELECT VERSION() AS v');
      version = String((v as { v: string }[])[0]!.v);
      const [rows] = await knex.raw('SHOW GRANTS');
      grants = (rows as Record<string, string>[]).map((r) => String(Object.values(r)[0]));
    } catch (err) {
      return {
        user: login.user,
        missing: [`cannot log in as ${login.user} (${(err as Error).message})`],
        statements: [
          `CREATE USER '${login.user}'@'%' IDENTIFIED BY '<password>';  -- or fix capture.connect.user / password`,
          `GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${login.user}'@'%';`,
        ],
      };
    }
    const v = parseMysqlVersion(version);
    const binlogMonitor = v.flavour === 'mariadb' && (v.major > 10 || (v.major === 10 && v.minor >= 5));
    const missing = mysqlMissingPrivileges(grants, database, binlogMonitor);
    return {
      user: login.user,
      missing,
      statements: mysqlGrantStatements(grantee(grants, login.user), missing),
    };
  } finally {
    await knex.destroy();
  }
}
