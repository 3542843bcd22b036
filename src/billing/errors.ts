// Whether the billing database refused a statement for a reason that will not change by trying
// again: the row breaks a constraint of LANBilling's tables (NOT NULL, a foreign key, a unique
// key, a check), or a value doesn't fit its column (too long, out of range, not a date). Such an
// account is parked with the database's own message, for an operator to look at, instead of being
// retried for ever. Anything else (deadlocks, lock timeouts, a lost connection, a server going
// down) is worth another try, and so is an error this list doesn't know.

/** MySQL/MariaDB errno values of a permanent refusal. */
const MYSQL_PERMANENT = new Map<number, string>([
  [1048, 'a NOT NULL column given NULL'],
  [1364, 'a NOT NULL column without a default left out'],
  [1406, 'a value too long for its column'],
  [1264, 'a value out of its column range'],
  [1265, 'a value cut to fit its column'],
  [1292, 'an invalid date or number'],
  [1366, 'an invalid value for its column'],
  [1062, 'a duplicate of a unique key'],
  [1451, 'a row other rows refer to (foreign key)'],
  [1452, 'a reference to a row that does not exist (foreign key)'],
  [1216, 'a reference to a row that does not exist (foreign key)'],
  [1217, 'a row other rows refer to (foreign key)'],
  [3819, 'a check constraint'],
  [4025, 'a check constraint'],
  [1644, "a trigger's refusal (SIGNAL)"],
]);

/**
 * PostgreSQL SQLSTATE classes 22 (data exception: too long, out of range, invalid datetime...)
 * and 23 (integrity constraint violation: not null, foreign key, unique, check), and P0001 (a
 * trigger's RAISE EXCEPTION).
 */
function pgPermanent(code: string): string | null {
  if (code === 'P0001') return "a trigger's refusal (RAISE)";
  if (code.startsWith('23')) return 'a constraint of the table';
  if (code.startsWith('22')) return 'a value that does not fit its column';
  return null;
}

/**
 * The database's message for a permanent refusal ("services: Column 'activated' cannot be null
 * (MySQL 1048: a NOT NULL column given NULL)"), or null when the error may pass on its own.
 */
export function billingRefusal(err: unknown): string | null {
  const e = err as { code?: unknown; errno?: unknown; sqlMessage?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return null;
  if (typeof e.errno === 'number' && typeof e.sqlMessage === 'string') {
    const why = MYSQL_PERMANENT.get(e.errno);
    return why ? `${e.sqlMessage} (MySQL ${e.errno}: ${why})` : null;
  }
  // node-postgres: a DatabaseError with the five-character SQLSTATE in `code`; knex puts the
  // statement in front of its message ("insert into … - null value in column …")
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
    const why = pgPermanent(e.code);
    const text = String(e.message ?? '');
    const own = text.lastIndexOf(' - ') >= 0 ? text.slice(text.lastIndexOf(' - ') + 3) : text;
    return why ? `${own.trim()} (PostgreSQL ${e.code}: ${why})` : null;
  }
  return null;
}
