// One knex instance per process for the billing database.
//
// DATETIMEs: the drivers hand a DATETIME / `timestamp without time zone` over as a JS Date whose
// UTC fields are the stored wall clock, on both dialects; clock.ts then places that wall clock in
// the billing's zone. The service's own tables (<prefix>*) store UTC the same way, so a Date
// written there comes back unchanged whatever the zone of the machine or the database.
//
// MySQL/MariaDB sessions (prepareMysqlSession): time_zone '+00:00' for the reason above, and the
// server's sql_mode without NO_ZERO_DATE and NO_ZERO_IN_DATE: LANBilling's tables are full of
// zero dates ('0000-00-00 00:00:00' = not set) and declare them as defaults, so a server upgraded
// with MySQL 5.7's default mode would otherwise refuse writes to rows the billing made. The rest
// of the server's mode is kept (STRICT_TRANS_TABLES refuses a value that doesn't fit instead of
// silently cutting it: such a write fails, and the account is parked with the server's message).
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

export type Dialect = 'pg' | 'mysql';

// pg: `timestamp without time zone` (OID 1114) would be parsed in the Node process's local zone;
// parse it as UTC so both dialects agree. numeric (1700) stays a string (money).
pg.types.setTypeParser(1114, (v: string) => new Date(`${v.replace(' ', 'T')}Z`));
// ...and write a JS Date parameter as UTC too: by default node-postgres sends it in the process's
// local zone with an offset, which a `timestamp without time zone` column silently drops, so on a
// machine outside UTC a stored timer (next_at) would come back shifted by the zone's offset.
pg.defaults.parseInputDatesAsUTC = true;

/** The sql_mode flags that refuse zero dates: dropped from the service's sessions. */
const ZERO_DATE_FLAGS = ['NO_ZERO_IN_DATE', 'NO_ZERO_DATE'];

/** One statement, run on every new MySQL/MariaDB connection of the service. */
export const MYSQL_SESSION_SETUP = `SET SESSION time_zone = '+00:00', SESSION sql_mode = TRIM(BOTH ',' FROM ${ZERO_DATE_FLAGS.reduce(
  (expr, flag) => `REPLACE(${expr}, ',${flag},', ',')`,
  "CONCAT(',', @@SESSION.sql_mode, ',')",
)})`;

interface MysqlConnection {
  query: (sql: string, cb: (err: Error | null) => void) => void;
}

/** pool.afterCreate of the service's MySQL/MariaDB connections. */
export function prepareMysqlSession(
  conn: MysqlConnection,
  done: (err: Error | null, c: unknown) => void,
): void {
  conn.query(MYSQL_SESSION_SETUP, (err) => done(err, conn));
}

export function openBilling(client: Dialect, connection: string, pool = { min: 0, max: 10 }): Knex {
  if (client === 'pg') {
    return knexFactory({ client: 'pg', connection, pool });
  }
  return knexFactory({
    client: 'mysql2',
    connection: {
      uri: connection,
      timezone: 'Z',
      dateStrings: false,
      decimalNumbers: false,
      supportBigNumbers: true,
      bigNumberStrings: true,
    } as Knex.MySql2ConnectionConfig & { uri: string },
    pool: { ...pool, afterCreate: prepareMysqlSession },
  });
}
