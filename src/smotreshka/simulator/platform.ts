// What each platform call does to the store, per spec/smotreshka-api.md. Independent of HTTP:
// every call returns the status and body the platform would answer, so routes stay thin and the
// semantics can be read in one place. Where the spec is silent the choice is noted here and in
// the README.
import type { Pagination } from '../types.js';
import { generatePassword, newAccountId, platformTime } from './ids.js';
import { accountDump, accountView, type PlatformStore, type SimAccount } from './store.js';
import {
  checkAccountState,
  checkCreate,
  checkResetPassword,
  checkSubscriptionSwitch,
  checkUpdate,
  isInvalid,
} from './validate.js';

export interface SimAnswer {
  status: number;
  body: unknown;
  /** account-state only: answered 200 but dropped as stale */
  ignored?: boolean;
}

const DEFAULT_PAGE_SIZE = 100;
export const FOREIGN_USERNAME_TEXT = 'Users exists and belongs to other provider';
export const ARCHIVED_SUBSCRIPTION_TEXT = 'HTTP 400: 4006: ValidationErrIsArchived';

const ok = (body: unknown): SimAnswer => ({ status: 200, body });
const v2Error = (status: number, error: string): SimAnswer => ({ status, body: { error } });
const v3Error = (status: number, code: string, message: string): SimAnswer => ({
  status,
  body: { code, message },
});

function pageParam(raw: string | undefined, fallback: number): number | undefined {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

export class Platform {
  constructor(
    readonly store: PlatformStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** The account a path names, or the answer for an unknown (404) or archived (403) one. */
  private open(ref: string, v3 = false): SimAccount | SimAnswer {
    const account = this.store.resolve(ref);
    if (!account) return v3 ? v3Error(404, 'not_found', 'account not found') : v2Error(404, 'not found');
    if (account.archived)
      return v3 ? v3Error(403, 'forbidden', 'account is archived') : v2Error(403, 'Forbidden');
    return account;
  }

  private touch(account: SimAccount): void {
    account.updated = platformTime(this.now());
  }

  listAccounts(query: { page_size?: string; page_num?: string }): SimAnswer {
    const size = pageParam(query.page_size, DEFAULT_PAGE_SIZE);
    const page = pageParam(query.page_num, 0);
    if (size === undefined || page === undefined || page < 0 || size === 0 || size < -1) {
      return v2Error(400, 'Bad Request: page_size must be -1 or positive, page_num from 0');
    }
    const listed = this.store.listed();
    const total = listed.length;
    const slice = size === -1 ? (page === 0 ? listed : []) : listed.slice(page * size, (page + 1) * size);
    const pages = total === 0 ? 0 : size === -1 ? 1 : Math.ceil(total / size);
    const pagination: Pagination = { page, page_size: size, pages, total };
    return ok({ accounts: slice.map(accountView), pagination });
  }

  /**
   * Idempotent for our own usernames. An archived account comes back (`created:false`) with what
   * it had when archived; the simulator then applies the request's purchases and password. For an
   * existing live account the request's purchases are ignored (the spec doesn't say; creation is
   * when they apply).
   */
  createAccount(body: unknown): SimAnswer {
    const req = checkCreate(body);
    if (isInvalid(req)) return v2Error(400, req.invalid);
    if (this.store.foreignUsernames.has(req.username)) return v2Error(400, FOREIGN_USERNAME_TEXT);
    const purchases = req.purchases ?? [];
    for (const id of purchases) {
      if (!this.store.isKnownSubscription(id))
        return v2Error(400, `Bad Request: unknown subscription ${id} in purchases`);
      if (this.store.archivedSubscriptions.has(id)) return v2Error(400, ARCHIVED_SUBSCRIPTION_TEXT);
    }
    const existing = this.store.byName(req.username);
    if (existing && !existing.archived) return ok({ id: existing.id, created: false });
    if (existing) {
      this.store.setArchived(existing, false);
      for (const id of purchases) existing.subscriptions.add(id);
      if (req.password !== undefined) existing.password = req.password;
      this.touch(existing);
      return ok({ id: existing.id, created: false });
    }
    const at = this.now();
    const stamp = platformTime(at);
    const account = this.store.add({
      id: newAccountId(at),
      username: req.username,
      email: req.email,
      password: req.password ?? generatePassword(),
      created: stamp,
      updated: stamp,
      region: req.region ?? null,
      info: req.info ?? null,
      subscriptions: new Set(purchases),
      archived: false,
      ignoredStatePushes: 0,
    });
    return ok({ id: account.id, created: true });
  }

  getAccount(ref: string): SimAnswer {
    const account = this.open(ref);
    return 'status' in account ? account : ok(accountView(account));
  }

  /** Archives: the data stays, every later call about the account answers 403. */
  deleteAccount(ref: string): SimAnswer {
    const account = this.open(ref);
    if ('status' in account) return account;
    this.store.setArchived(account, true);
    this.touch(account);
    return ok({ deleted: true });
  }

  /** `{region?, info?}`; an `email` in the body is ignored: the API can't change it. */
  updateAccount(ref: string, body: unknown): SimAnswer {
    const account = this.open(ref);
    if ('status' in account) return account;
    const req = checkUpdate(body);
    if (isInvalid(req)) return v2Error(400, req.invalid);
    if (req.region !== undefined) account.region = req.region;
    if (req.info !== undefined) account.info = req.info;
    this.touch(account);
    return ok({ region: account.region, info: account.info });
  }

  /** `{password}` or no body; `created` says whether the platform generated the password. */
  resetPassword(ref: string, body: unknown): SimAnswer {
    const account = this.open(ref);
    if ('status' in account) return account;
    const req = checkResetPassword(body);
    if (isInvalid(req)) return v2Error(400, req.invalid);
    account.password = req.password ?? generatePassword();
    this.touch(account);
    return ok({ status: 'ok', created: req.password === undefined });
  }

  listSubscriptions(): SimAnswer {
    return ok(this.store.catalogue);
  }

  accountSubscriptions(ref: string): SimAnswer {
    const account = this.open(ref);
    if ('status' in account) return account;
    const ids: { id: string }[] = [];
    for (const id of account.subscriptions) ids.push({ id });
    return ok(ids);
  }

  /**
   * Idempotent; an unknown id answers `{}` (200). Enabling an archived subscription answers 400
   * even for an account that still has it; disabling it is allowed.
   */
  setSubscription(ref: string, body: unknown): SimAnswer {
    const account = this.open(ref);
    if ('status' in account) return account;
    const req = checkSubscriptionSwitch(body);
    if (isInvalid(req)) return v2Error(400, req.invalid);
    if (!this.store.isKnownSubscription(req.id)) return ok({});
    if (req.valid && this.store.archivedSubscriptions.has(req.id))
      return v2Error(400, ARCHIVED_SUBSCRIPTION_TEXT);
    const has = account.subscriptions.has(req.id);
    if (req.valid !== has) {
      if (req.valid) account.subscriptions.add(req.id);
      else account.subscriptions.delete(req.id);
      this.touch(account);
    }
    return ok({ id: req.id, valid: req.valid });
  }

  /**
   * v3 account state. Checks, in order: the body (400), the stamp's window (400, when a window is
   * set), then staleness: a stamp <= the last processed one is answered 200 and dropped.
   */
  pushAccountState(ref: string, body: unknown, delayed: boolean): SimAnswer {
    const account = this.open(ref, true);
    if ('status' in account) return account;
    const req = checkAccountState(body);
    if (isInvalid(req)) return v3Error(400, 'bad_request', req.invalid);
    const now = this.now();
    const window = this.store.stateWindow;
    if (window && req.stateTimestamp <= now - window.pastMs) {
      return v3Error(400, 'bad_request', 'stateTimestamp is too far in the past');
    }
    if (window && req.stateTimestamp >= now + window.futureMs) {
      return v3Error(400, 'bad_request', 'stateTimestamp is too far in the future');
    }
    const last = account.state?.stateTimestamp;
    if (last !== undefined && req.stateTimestamp <= last) {
      account.ignoredStatePushes++;
      return {
        status: 200,
        body: { status: 'ok', message: 'ignored: stateTimestamp is not newer' },
        ignored: true,
      };
    }
    account.state = {
      balance: req.balance,
      status: req.status,
      tvSuspended: req.tvSuspended,
      stateTimestamp: req.stateTimestamp,
      delayed,
      receivedAt: now,
    };
    if (req.recommendedRefill !== undefined) account.state.recommendedRefill = req.recommendedRefill;
    if (req.lastChangeTimestamp !== undefined) account.state.lastChangeTimestamp = req.lastChangeTimestamp;
    return ok({ status: 'ok', message: delayed ? 'state accepted (delayed)' : 'state accepted' });
  }

  /**
   * Control API: sets an account's subscriptions as a subscriber or manager would on the platform.
   * Unknown ids are refused; an archived subscription may only stay if the account already has it.
   */
  replaceSubscriptions(username: string, ids: readonly string[]): SimAnswer {
    const account = this.store.byName(username);
    if (!account) return v2Error(404, `no account with username ${username}`);
    if (account.archived) return v2Error(409, 'the account is archived');
    for (const id of ids) {
      if (!this.store.isKnownSubscription(id)) return v2Error(400, `unknown subscription ${id}`);
      if (this.store.archivedSubscriptions.has(id) && !account.subscriptions.has(id)) {
        return v2Error(400, `subscription ${id} is archived`);
      }
    }
    account.subscriptions = new Set(ids);
    this.touch(account);
    return ok(accountDump(account));
  }
}
