// The Smotreshka operator API's data, as spec/smotreshka-api.md describes it.

/** `status` of the v3 account-state call. */
export type PlatformStatus = 'active' | 'suspended_no_funds' | 'suspended_manually' | 'other';

/** Body of `POST /accounts/v3/{id}/account-state`, minus the timestamps the client adds. */
export interface AccountStatePush {
  /** integer kopecks, may be negative */
  balance: number;
  status: PlatformStatus;
  /** true = TV suspended; then status is never 'active' */
  tvSuspended: boolean;
  /** kopecks needed to unblock, when suspended for money */
  recommendedRefill?: number;
}

/** A platform account as `GET /v2/accounts` and `GET /v2/accounts/{id}` answer it. */
export interface PlatformAccount {
  id: string;
  username: string;
  email?: string;
  created?: string;
  updated?: string;
  is_blocked?: boolean;
  region?: string | null;
  subscriptions: { id: string }[];
  /** set by the client when the platform's answer had no `subscriptions` field at all */
  subscriptionsUnknown?: true;
  info?: Record<string, unknown> | null;
}

export interface Pagination {
  page: number;
  page_size: number;
  pages: number;
  total: number;
}

export interface AccountsPage {
  accounts: PlatformAccount[];
  pagination: Pagination;
}

/** One entry of `GET /v2/subscriptions`: the operator's catalogue. */
export interface CatalogueSubscription {
  id: string;
  name: string;
  [extra: string]: unknown;
}

export interface CreateAccountRequest {
  username: string;
  email: string;
  password?: string;
  purchases?: string[];
  region?: string;
  info?: Record<string, unknown>;
}

export interface CreateAccountResult {
  id: string;
  created: boolean;
}
