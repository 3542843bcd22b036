// Which database servers can carry the capture triggers. MySQL before 5.7.2 allows one trigger per
// table, timing and event, and LANBilling already uses the AFTER slots of vgroups and agreements;
// the row images need JSON_OBJECT, which MySQL has from 5.7.8 (so 5.7.8 is the real floor there),
// MariaDB from 10.2.3 — the same release that allows several triggers per event. PostgreSQL needs
// 13 for pg_current_xact_id() (the xid8 transaction id written with each change).

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

const FLOORS: Record<ServerVersion['flavour'], [number, number, number]> = {
  mysql: [5, 7, 8],
  mariadb: [10, 2, 3],
  postgresql: [13, 0, 0],
};

const WHY: Record<ServerVersion['flavour'], string> = {
  mysql: 'several triggers per table and event (5.7.2) and JSON_OBJECT (5.7.8)',
  mariadb: 'several triggers per table and event, and JSON_OBJECT',
  postgresql: 'pg_current_xact_id()',
};

/** null when the server can carry the triggers, else the message to refuse it with. */
export function captureRefusal(v: ServerVersion): string | null {
  const floor = FLOORS[v.flavour];
  const have = [v.major, v.minor, v.patch];
  for (let i = 0; i < 3; i++) {
    if (have[i]! > floor[i]!) return null;
    if (have[i]! < floor[i]!) {
      const name = { mysql: 'MySQL', mariadb: 'MariaDB', postgresql: 'PostgreSQL' }[v.flavour];
      return (
        `trigger capture needs ${name} >= ${floor.join('.')} (${WHY[v.flavour]}); this server is ` +
        `${v.major}.${v.minor}${v.flavour === 'postgresql' ? '' : `.${v.patch}`}. ` +
        'Upgrade the server, or use capture.mode: debezium.'
      );
    }
  }
  return null;
}
