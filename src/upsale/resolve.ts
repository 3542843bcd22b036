// Which vgroup the platform is selling to. The platform names the account twice: by its own id
// (accountId) and by username (accountLogin = usernamePrefix + vgroups.login). The id is looked up
// in the service's own mapping first, because it is exact; the login is the fallback, and since a
// login is unique per agent only, several vgroups may share it.
import type { Knex } from 'knex';
import type { BillingReader } from '../billing/read.js';
import { mappedUsernames, vgIdsByPlatformId } from '../state/account-lookup.js';

export interface ResolveDeps {
  knex: Knex;
  reader: BillingReader;
  /** prefix of the service's own tables */
  tablePrefix: string;
  /** smotreshka.usernamePrefix */
  usernamePrefix: string;
}

export type Resolution = { vgId: number; via: 'platform_id' | 'login' } | { vgId: null; reason: string };

/**
 * Among several vgroups, the first non-empty tier decides, and only if it holds exactly one:
 * those mapped to the platform under this very username, then those holding TV services, then
 * all. Two equally good candidates are refused rather than guessed: a sale on the wrong contract
 * is worse than no sale.
 */
export async function resolveAccount(
  deps: ResolveDeps,
  names: { accountId?: string | undefined; accountLogin?: string | undefined },
  at: Date,
): Promise<Resolution> {
  if (names.accountId) {
    const mapped = await vgIdsByPlatformId(deps.knex, deps.tablePrefix, names.accountId);
    const chosen = await choose(deps, mapped, names.accountLogin ?? null, at);
    if (chosen !== null) return { vgId: chosen, via: 'platform_id' };
  }
  const username = names.accountLogin;
  if (!username) return { vgId: null, reason: 'no account with this accountId, and no accountLogin' };
  if (!username.startsWith(deps.usernamePrefix)) {
    return {
      vgId: null,
      reason: `accountLogin does not start with the usernamePrefix "${deps.usernamePrefix}"`,
    };
  }
  const login = username.slice(deps.usernamePrefix.length);
  const byLogin = (await deps.reader.vgIdsByLogin([login])).get(login) ?? [];
  if (byLogin.length === 0) return { vgId: null, reason: `no account with login "${login}"` };
  const chosen = await choose(deps, byLogin, username, at);
  if (chosen === null)
    return { vgId: null, reason: `login "${login}" is ambiguous: vgroups ${byLogin.join(', ')}` };
  return { vgId: chosen, via: 'login' };
}

async function choose(
  deps: ResolveDeps,
  vgIds: number[],
  username: string | null,
  at: Date,
): Promise<number | null> {
  if (vgIds.length <= 1) return vgIds[0] ?? null;
  const mapping = await mappedUsernames(deps.knex, deps.tablePrefix, vgIds);
  const mapped = vgIds.filter((id) => mapping.has(id) && (username === null || mapping.get(id) === username));
  if (mapped.length > 0) return mapped.length === 1 ? mapped[0]! : null;
  const accounts = await deps.reader.loadAccounts(vgIds, at);
  const withTv = accounts.filter((a) => a.services.some((s) => s.uuid !== null)).map((a) => a.vgId);
  if (withTv.length > 0) return withTv.length === 1 ? withTv[0]! : null;
  return null;
}
