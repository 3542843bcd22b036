// What a MySQL/MariaDB account may do, read from its SHOW GRANTS lines: enough to tell whether the
// capture triggers' DEFINER still holds what the triggers need. A trigger runs with its definer's
// rights, and the server checks them on every billing write that fires it: the definer needs
// TRIGGER and SELECT on the captured table and INSERT on the change log, or that write fails
// (error 1142/1143), and if the account is gone every such write fails (error 1449). Pure.
//
// Read: global (*.*), database (`db`.*, with LIKE wildcards) and table (`db`.`t`) privileges,
// ALL [PRIVILEGES]. Not read: column privileges (not enough for a trigger that reads whole rows),
// routine privileges and roles; an account relying on those is reported as lacking the privilege.

export interface Need {
  privilege: 'SELECT' | 'INSERT' | 'TRIGGER';
  table: string;
}

interface Grant {
  privileges: Set<string>;
  db: string;
  table: string;
}

/** Splits at commas outside parentheses ("SELECT (a, b), INSERT" → two). */
function splitPrivileges(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of list) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

const unquote = (s: string) =>
  s.startsWith('`') && s.endsWith('`') ? s.slice(1, -1).replace(/``/g, '`') : s;

export function parseGrant(line: string): Grant | null {
  const m = /^GRANT\s+(.+?)\s+ON\s+(.+?)\s+TO\s+/i.exec(line.trim());
  if (!m) return null;
  const object = m[2]!.trim();
  if (/^(FUNCTION|PROCEDURE|PACKAGE)\s/i.test(object)) return null;
  const dot = /^(`(?:[^`]|``)*`|[^.`]+)\.(`(?:[^`]|``)*`|\*|[^.`]+)$/.exec(object);
  if (!dot) return null;
  const privileges = new Set<string>();
  for (const p of splitPrivileges(m[1]!)) {
    // a column privilege ("SELECT (`a`)") covers columns, not the table
    if (p.includes('(')) continue;
    const name = p.toUpperCase().replace(/\s+/g, ' ');
    privileges.add(name === 'ALL PRIVILEGES' ? 'ALL' : name);
  }
  return { privileges, db: unquote(dot[1]!), table: unquote(dot[2]!) };
}

/** A database name in a grant is a LIKE pattern (`%`, `_`, with `\_` for a literal underscore). */
function dbMatches(pattern: string, db: string): boolean {
  if (pattern === '*') return true;
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\' && i + 1 < pattern.length) re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (ch === '%') re += '.*';
    else if (ch === '_') re += '.';
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i').test(db);
}

/** The needs that no grant line covers, in the order given. */
export function missingPrivileges(lines: string[], db: string, needs: Need[]): Need[] {
  const grants = lines.map(parseGrant).filter((g): g is Grant => g !== null);
  const covers = (g: Grant, n: Need) =>
    (g.privileges.has('ALL') || g.privileges.has(n.privilege)) &&
    dbMatches(g.db, db) &&
    (g.table === '*' || g.table === n.table);
  return needs.filter((n) => !grants.some((g) => covers(g, n)));
}

/** "'user'@'host'" of a DEFINER as information_schema prints it ("user@host"). */
export function accountOf(definer: string): { user: string; host: string } {
  const at = definer.lastIndexOf('@');
  return at < 0 ? { user: definer, host: '%' } : { user: definer.slice(0, at), host: definer.slice(at + 1) };
}
