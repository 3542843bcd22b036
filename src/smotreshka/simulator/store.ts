// The simulated platform's data: accounts (with archive flag and pushed account state), the
// catalogue and the usernames other operators own. Pure data and lookups; what the API does with
// them is in platform.ts, so the same store backs the HTTP routes and the control API.
import type { CatalogueSubscription, PlatformAccount, PlatformStatus } from '../types.js';
import { ACCOUNT_ID_RE } from './ids.js';

/** How `{id}` in a path is read: the real platform is switched per operator; 'both' accepts either. */
export type IdMode = 'accountId' | 'username' | 'both';

export interface StateWindow {
  /** a stamp this far (or further) in the past is refused */
  pastMs: number;
  /** a stamp this far (or further) in the future is refused */
  futureMs: number;
}

export interface StoredAccountState {
  balance: number;
  status: PlatformStatus;
  tvSuspended: boolean;
  recommendedRefill?: number;
  stateTimestamp: number;
  lastChangeTimestamp?: number;
  delayed: boolean;
  /** when the simulator accepted it, ms since epoch */
  receivedAt: number;
}

export interface SimAccount {
  /** creation order: listings are stable by it */
  seq: number;
  id: string;
  username: string;
  email: string;
  password: string;
  created: string;
  updated: string;
  region: string | null;
  info: Record<string, unknown> | null;
  subscriptions: Set<string>;
  archived: boolean;
  state?: StoredAccountState;
  /** pushes answered 200 but dropped because their stateTimestamp was not newer */
  ignoredStatePushes: number;
}

/** A catalogue entry as the control API and `--catalogue` take it. */
export interface CatalogueItem extends CatalogueSubscription {
  archived?: boolean;
}

export class PlatformStore {
  private byId = new Map<string, SimAccount>();
  private byUsername = new Map<string, SimAccount>();
  /** every account in creation order, archived ones included */
  private ordered: SimAccount[] = [];
  /** the non-archived ones, rebuilt lazily after a create/archive/restore */
  private listedCache: SimAccount[] | null = [];
  private nextSeq = 1;

  catalogue: CatalogueSubscription[] = [];
  private known = new Set<string>();
  archivedSubscriptions = new Set<string>();
  readonly foreignUsernames = new Set<string>();

  constructor(
    public idMode: IdMode,
    public stateWindow: StateWindow | null,
    catalogue: readonly CatalogueItem[],
    archived: readonly string[],
  ) {
    this.setCatalogue(catalogue, archived);
  }

  /** Replaces the catalogue; items flagged `archived` (and ids in `archived`) can't be enabled. */
  setCatalogue(items: readonly CatalogueItem[], archived: readonly string[] = []): void {
    this.catalogue = items.map(({ archived: _flag, ...rest }) => rest);
    this.known = new Set(items.map((s) => s.id));
    this.archivedSubscriptions = new Set([...archived, ...items.filter((s) => s.archived).map((s) => s.id)]);
  }

  catalogueItems(): CatalogueItem[] {
    return this.catalogue.map((s) =>
      this.archivedSubscriptions.has(s.id) ? { ...s, archived: true } : { ...s },
    );
  }

  isKnownSubscription(id: string): boolean {
    return this.known.has(id);
  }

  /** Finds the account a path's `{id}` names, archived ones included, per idMode. */
  resolve(ref: string): SimAccount | undefined {
    if (this.idMode !== 'username' && ACCOUNT_ID_RE.test(ref)) {
      const byId = this.byId.get(ref);
      if (byId || this.idMode === 'accountId') return byId;
    }
    if (this.idMode === 'accountId') return undefined;
    return this.byUsername.get(ref);
  }

  byName(username: string): SimAccount | undefined {
    return this.byUsername.get(username);
  }

  add(account: Omit<SimAccount, 'seq'>): SimAccount {
    const stored: SimAccount = { ...account, seq: this.nextSeq++ };
    this.byId.set(stored.id, stored);
    this.byUsername.set(stored.username, stored);
    this.ordered.push(stored);
    this.listedCache = null;
    return stored;
  }

  setArchived(account: SimAccount, archived: boolean): void {
    account.archived = archived;
    this.listedCache = null;
  }

  /** Non-archived accounts in creation order (what GET /v2/accounts pages through). */
  listed(): readonly SimAccount[] {
    if (this.listedCache === null) this.listedCache = this.ordered.filter((a) => !a.archived);
    return this.listedCache;
  }

  all(): readonly SimAccount[] {
    return this.ordered;
  }

  clearAccounts(): void {
    this.byId.clear();
    this.byUsername.clear();
    this.ordered = [];
    this.listedCache = [];
  }
}

/** An account as the platform shows it (`GET /v2/accounts[/{id}]`). */
export function accountView(a: SimAccount): PlatformAccount {
  const subscriptions: { id: string }[] = [];
  for (const id of a.subscriptions) subscriptions.push({ id });
  return {
    id: a.id,
    username: a.username,
    email: a.email,
    created: a.created,
    updated: a.updated,
    // The spec doesn't say what sets is_blocked; the simulator mirrors the last accepted tvSuspended.
    is_blocked: a.state?.tvSuspended ?? false,
    region: a.region,
    subscriptions,
    info: a.info,
  };
}

/** Everything the simulator knows about an account, for the control API (the password is not shown). */
export function accountDump(a: SimAccount): Record<string, unknown> {
  return {
    ...accountView(a),
    archived: a.archived,
    state: a.state ?? null,
    ignoredStatePushes: a.ignoredStatePushes,
  };
}
