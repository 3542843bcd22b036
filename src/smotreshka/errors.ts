// Every failure of a platform call is classified once, here, so that callers decide by kind:
// transient ones are retried with back-off, the rest are permanent for that account (parked).

export type PlatformErrorKind =
  /** network error, timeout, 5xx, 429: retry later, keep order */
  | 'transient'
  /** 403: our address is not allowed, or the account is archived on the platform */
  | 'forbidden'
  /** 404 or a "not found" text */
  | 'not_found'
  /** `{}` answered to a subscription call: the platform doesn't know that subscription id */
  | 'unknown_subscription'
  /** 400 ...ValidationErrIsArchived: the subscription is archived on the platform */
  | 'archived_subscription'
  /** 400 Users exists and belongs to other provider */
  | 'foreign_username'
  /** any other 400 */
  | 'bad_request'
  /** an answer we can't read (not JSON, wrong shape) */
  | 'protocol';

export class PlatformError extends Error {
  override name = 'PlatformError';
  constructor(
    readonly kind: PlatformErrorKind,
    message: string,
    readonly status?: number,
    /** method and path of the call, never a body with personal data */
    readonly call?: string,
    /** transient only: how long the platform asked us to wait (Retry-After of a 429/503) */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
  get transient(): boolean {
    return this.kind === 'transient';
  }
}

export function isTransient(err: unknown): boolean {
  return err instanceof PlatformError && err.transient;
}
