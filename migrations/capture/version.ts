// Which database servers can carry the capture triggers, and what they allow.
//
// The change log is typed (small integer keys, no JSON) and every trigger fits the one slot a
// server of the MySQL 5.6 era allows per table, timing and event, so the floors are set by the
// service's own tables rather than by the triggers: fractional-second DATETIMEs (MySQL 5.6.4;
// MariaDB has them since 5.3, and 10.0 is the oldest MariaDB the vendor's releases met). MySQL
// 5.5 lacks them. PostgreSQL 13 is the oldest release supported (statement-level triggers with
// transition tables exist since 10).
//
// Debezium mode is another matter: what its connectors support (see debeziumRefusal).

export interface ServerVersion {
  flavour: 'mysql' | 'mariadb' | 'postgresql';
  major: number;
  minor: number;
  patch: number;
}

/** `SELECT VERSION()` of MySQL/MariaDB, e.g. "10.11.19-MariaDB-0+deb12u1-log" or "8.0.36". */
export function parseMysqlVersion(text: string): ServerVersion {
  // MariaDB 10.x replication used to prefix "5.5.5-" to the real version.
  const clean = text.replace(/^5\.5\.5-/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(clean);
  if (!m) throw new Error(`cannot read the server version "${text}"`);
  return {
    flavour: /mariadb/i.test(text) ? 'mariadb' : 'mysql',
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
  };
}

/** `SHOW server_version_num` of PostgreSQL, e.g. "150020". */
export function parsePgVersionNum(text: string): ServerVersion {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 10000) throw new Error(`cannot read the server version "${text}"`);
  return { flavour: 'postgresql', major: Math.floor(n / 10000), minor: n % 10000, patch: 0 };
}

type Triple = [number, number, number];

function atLeast(v: ServerVersion, floor: Triple): boolean {
  const have = [v.major, v.minor, v.patch];
  for (let i = 0; i < 3; i++) if (have[i] !== floor[i]) return have[i]! > floor[i]!;
  return true;
}

const NAME = { mysql: 'MySQL', mariadb: 'MariaDB', postgresql: 'PostgreSQL' } as const;

export function describeVersion(v: ServerVersion): string {
  return `${NAME[v.flavour]} ${v.major}.${v.minor}${v.flavour === 'postgresql' ? '' : `.${v.patch}`}`;
}

const FLOORS: Record<ServerVersion['flavour'], { floor: Triple; why: string }> = {
  mysql: { floor: [5, 6, 4], why: 'fractional-second DATETIME columns in its own tables' },
  mariadb: { floor: [10, 0, 0], why: 'the oldest MariaDB it supports' },
  postgresql: { floor: [13, 0, 0], why: 'the oldest PostgreSQL it supports' },
};

/** null when the server can carry trigger capture, else the message to refuse it with. */
export function captureRefusal(v: ServerVersion): string | null {
  const { floor, why } = FLOORS[v.flavour];
  if (atLeast(v, floor)) return null;
  const shown = v.flavour === 'postgresql' ? String(floor[0]) : floor.join('.');
  return (
    `lbcore-lifestream needs ${NAME[v.flavour]} >= ${shown} (${why}); this server is ${describeVersion(v)}. ` +
    'Upgrade the server.'
  );
}

/**
 * MySQL before 5.7.2 and MariaDB before 10.2.3 allow one trigger per table, timing and event, and
 * LANBilling's own triggers hold some of those slots: the capture triggers then take a free one.
 */
export function severalTriggersPerSlot(v: ServerVersion): boolean {
  if (v.flavour === 'postgresql') return true;
  return atLeast(v, v.flavour === 'mysql' ? [5, 7, 2] : [10, 2, 3]);
}

/**
 * null when Debezium's connector for this server is meant to work with it, else what it supports.
 * Debezium 3.x's MySQL connector is tested against MySQL 8.0 and later: MySQL 5.7 is best effort
 * since Debezium 2.5 (DBZ-6874), and the MySQL driver it ships since 2.6 doesn't connect to 5.x
 * servers (DBZ-7652). Its MariaDB connector is tested against current MariaDB releases only (the
 * Debezium release overview lists them), and a MariaDB of the 10.1 era also defaults to the
 * STATEMENT binlog that no Debezium connector reads.
 */
export function debeziumRefusal(v: ServerVersion): string | null {
  if (v.flavour === 'postgresql') return null;
  if (v.flavour === 'mysql' && !atLeast(v, [8, 0, 0])) {
    return (
      `Debezium 3.x's MySQL connector supports MySQL 8.0 and later; this server is ${describeVersion(v)} ` +
      '(MySQL 5.7 is best effort only since Debezium 2.5, DBZ-6874, and the driver Debezium ships since 2.6 ' +
      'cannot connect to MySQL 5.x, DBZ-7652). Use capture.mode: triggers on this server.'
    );
  }
  if (v.flavour === 'mariadb' && !atLeast(v, [10, 2, 3])) {
    return (
      `Debezium 3.x's MariaDB connector is tested against current MariaDB releases only (see the Debezium ` +
      `release overview); this server is ${describeVersion(v)}. Use capture.mode: triggers on this server ` +
      '(it fits its one trigger per table, timing and event).'
    );
  }
  return null;
}
