// One knex instance per process for the billing database. Dates are read back as JS Dates in UTC
// on both dialects: the billing stores local wall-clock DATETIMEs, and we treat the server's
// session time zone as UTC so that the same value round-trips unchanged (documented in README).
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
    pool: {
      ...pool,
      afterCreate(conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, c: unknown) => void) {
        conn.query("SET time_zone = '+00:00'", (err) => done(err, conn));
      },
    },
  });
}
