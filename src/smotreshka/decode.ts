// Reading the platform's answers into our types. Checks only what the service relies on (ids,
// usernames, the subscription lists, pagination) so that a 100,000-account page stays cheap; any
// other shape is a `protocol` error, never a silently wrong value.
import { PlatformError } from './errors.js';
import type {
  AccountsPage,
  CatalogueSubscription,
  CreateAccountResult,
  Pagination,
  PlatformAccount,
} from './types.js';

export class Unreadable extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Subscription ids are strings; a platform that sends numbers is read as if it sent strings. */
function subscriptionId(v: unknown): string {
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new Unreadable(`subscription id ${JSON.stringify(v)}`);
}

export function subscriptionIds(json: unknown): string[] {
  if (!Array.isArray(json)) throw new Unreadable('expected an array of {id}');
  return json.map((item) => {
    if (!isObject(item)) throw new Unreadable('expected {id} items');
    return subscriptionId(item.id);
  });
}

/**
 * Checks an account in place: a 100,000-account listing must not be copied object by object.
 * Only a missing list or numeric ids are rewritten.
 */
export function account(json: unknown): PlatformAccount {
  if (!isObject(json) || typeof json.id !== 'string' || typeof json.username !== 'string') {
    throw new Unreadable('expected an account with id and username');
  }
  const subs = json.subscriptions;
  if (subs === undefined || subs === null) {
    // Not "no subscriptions": the listing didn't say. Marked so the platform scan never reads a
    // missing field as every subscription switched off.
    json.subscriptions = [];
    json.subscriptionsUnknown = true;
  } else if (!Array.isArray(subs)) {
    throw new Unreadable('subscriptions must be an array of {id}');
  } else if (!subs.every((s) => isObject(s) && typeof s.id === 'string' && s.id.length > 0)) {
    json.subscriptions = subscriptionIds(subs).map((id) => ({ id }));
  }
  return json as unknown as PlatformAccount;
}

/** `GET /v2/accounts/{id}`: production platforms answer flat, the vendor spec wraps in `{accounts:[...]}`. */
export function singleAccount(json: unknown): PlatformAccount | null {
  if (isObject(json) && Array.isArray(json.accounts) && json.id === undefined) {
    const [first] = json.accounts;
    return first === undefined ? null : account(first);
  }
  return account(json);
}

function pagination(json: unknown): Pagination {
  if (!isObject(json)) throw new Unreadable('expected pagination');
  const { page, page_size, pages, total } = json;
  for (const v of [page, page_size, pages, total]) {
    if (typeof v !== 'number' || !Number.isInteger(v))
      throw new Unreadable('pagination fields must be integers');
  }
  return { page, page_size, pages, total } as Pagination;
}

export function accountsPage(json: unknown): AccountsPage {
  if (!isObject(json) || !Array.isArray(json.accounts))
    throw new Unreadable('expected {accounts, pagination}');
  return { accounts: json.accounts.map(account), pagination: pagination(json.pagination) };
}

export function createResult(json: unknown): CreateAccountResult {
  if (!isObject(json) || typeof json.id !== 'string' || typeof json.created !== 'boolean') {
    throw new Unreadable('expected {id, created}');
  }
  return { id: json.id, created: json.created };
}

export function catalogue(json: unknown): CatalogueSubscription[] {
  if (!Array.isArray(json)) throw new Unreadable('expected an array of subscriptions');
  return json.map((item) => {
    if (!isObject(item)) throw new Unreadable('expected subscription objects');
    return { ...item, id: subscriptionId(item.id), name: typeof item.name === 'string' ? item.name : '' };
  });
}

/** `{id, valid}` is success; `{}` is the platform's way of saying it doesn't know the subscription. */
export function subscriptionSwitch(json: unknown, call: string): void {
  if (isObject(json) && Object.keys(json).length === 0) {
    throw new PlatformError(
      'unknown_subscription',
      `${call}: the platform does not know this subscription`,
      200,
      call,
    );
  }
  if (!isObject(json) || json.id === undefined) throw new Unreadable('expected {id, valid}');
}
