// The platform as the rest of the service sees it: one small interface, implemented by the HTTP
// client (client.ts). `ref` is what goes into `{id}` of a path: the platform account id, or the
// username when `smotreshka.accountIdMode` is `username` (see accountRef).
import type {
  AccountStatePush,
  AccountsPage,
  CatalogueSubscription,
  CreateAccountRequest,
  CreateAccountResult,
  PlatformAccount,
} from './types.js';

export interface StateStamps {
  /** ms since epoch; the platform ignores a push whose stamp is <= the last one it processed */
  stateTimestamp: number;
  lastChangeTimestamp?: number;
}

export interface PlatformApi {
  /** `GET /v2/accounts?page_size&page_num` (pages from 0) */
  listAccounts(pageNum: number, pageSize: number): Promise<AccountsPage>;
  /** `GET /v2/accounts/{ref}`; null when the platform does not know the account (404 / not found) */
  getAccount(ref: string): Promise<PlatformAccount | null>;
  /** `POST /v2/accounts`; idempotent for our own usernames (`created:false`) */
  createAccount(req: CreateAccountRequest): Promise<CreateAccountResult>;
  /** `DELETE /v2/accounts/{ref}`: archives the account. Never used for a block. */
  deleteAccount(ref: string): Promise<void>;
  /** `POST /v2/accounts/{ref}/update` */
  updateAccount(ref: string, body: { region?: string; info?: Record<string, unknown> }): Promise<void>;
  /** `POST /v2/accounts/{ref}/reset-password` */
  resetPassword(ref: string, password?: string): Promise<void>;
  /** `GET /v2/subscriptions`: the operator's catalogue */
  listSubscriptions(): Promise<CatalogueSubscription[]>;
  /** `GET /v2/accounts/{ref}/subscriptions`: ids of the active subscriptions */
  accountSubscriptions(ref: string): Promise<string[]>;
  /** `POST /v2/accounts/{ref}/subscriptions` `{id, valid}` */
  setSubscription(ref: string, subscriptionId: string, valid: boolean): Promise<void>;
  /** `POST /accounts/v3/{ref}/account-state[?delayed=true]` */
  pushAccountState(ref: string, state: AccountStatePush, stamps: StateStamps, delayed?: boolean): Promise<void>;
}

export type AccountIdMode = 'accountId' | 'username';

export function accountRef(mode: AccountIdMode, account: { id: string; username: string }): string {
  return mode === 'username' ? account.username : account.id;
}
