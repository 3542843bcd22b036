// Refusals that are the caller's fault, with the HTTP status and the `error` code the routes
// answer. Anything else thrown by the sale logic is ours and becomes a 500 ("send it again").

export type RejectionCode =
  | 'invalid_request'
  | 'forbidden'
  | 'transaction_conflict'
  | 'unknown_transaction'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'not_found';

export class UpsaleRejection extends Error {
  override name = 'UpsaleRejection';

  constructor(
    readonly status: 400 | 403 | 404 | 409 | 413 | 415,
    readonly code: RejectionCode,
    message: string,
    /** transaction_conflict: the parameters that differ from the bound sale */
    readonly mismatch?: string[],
  ) {
    super(message);
  }
}

/** The same qsTransactionId used for a different sale (account, operation, offers, trial, billing id). */
export function conflict(message: string, mismatch: string[]): UpsaleRejection {
  return new UpsaleRejection(409, 'transaction_conflict', message, mismatch);
}

/** A commit whose qsTransactionId no ensure reserved: there is nothing to commit. */
export function unknownTransaction(message: string): UpsaleRejection {
  return new UpsaleRejection(404, 'unknown_transaction', message);
}

export function invalid(message: string): UpsaleRejection {
  return new UpsaleRejection(400, 'invalid_request', message);
}
