// One sale per qsTransactionId: the first ensure that answers operation_ensured binds the id to
// its account, operation, offers and trialDays, and answers the billingTransactionId. Every later
// ensure or commit of that id must be the same sale; a mismatch is refused with 409 before
// anything is decided or written, also once the sale is committed. Pure: the account, which needs
// the billing to resolve, is compared by the caller (sale.ts) and passed in.
import type { SaleKind, SaleRecord } from '../state/upsale-journal.js';
import type { SaleQuery } from './schema.js';

/** One parameter that differs from the bound sale, and how, for the 409 message. */
export interface Mismatch {
  /** the query parameter (or `account` for accountId/accountLogin, `operation` for the endpoint) */
  param: string;
  detail: string;
}

/** Whether the request names the account exactly as the first ensure did (then it is that account). */
export function sameAccountNames(r: SaleRecord, q: SaleQuery): boolean {
  return (q.accountId ?? null) === r.accountId && (q.accountLogin ?? null) === r.accountLogin;
}

/**
 * What differs between the bound sale and this request, the account aside. An absent trialDays
 * means "as bound" (the platform need not repeat it on commit); any value given must be the bound
 * one, so a commit can't turn a paid sale into a trial. billingTransactionId is only sent on
 * commit, where it is required (schema.ts) and must be the one ensure answered.
 */
export function bindingMismatches(r: SaleRecord, kind: SaleKind, q: SaleQuery): Mismatch[] {
  const out: Mismatch[] = [];
  if (r.kind !== kind) out.push({ param: 'operation', detail: `it is a ${r.kind}-subscription sale` });
  if (r.newOfferId !== q.newOfferId) out.push({ param: 'newOfferId', detail: `it was ${r.newOfferId}` });
  if (kind === 'replace' && r.kind === 'replace' && r.oldOfferId !== (q.oldOfferId ?? null))
    out.push({ param: 'oldOfferId', detail: `it was ${r.oldOfferId}` });
  if (q.trialDays !== undefined && q.trialDays !== r.trialDays)
    out.push({ param: 'trialDays', detail: `it was ${r.trialDays}` });
  if (q.billingTransactionId !== undefined && q.billingTransactionId !== r.billingTransactionId)
    out.push({ param: 'billingTransactionId', detail: 'it is not the one ensure answered' });
  return out;
}

export const accountMismatch: Mismatch = { param: 'account', detail: 'it was ensured for another account' };

export function describeMismatches(qsTransactionId: string, found: Mismatch[]): string {
  return `qsTransactionId ${qsTransactionId} belongs to another sale: ${found
    .map((m) => `${m.param} (${m.detail})`)
    .join('; ')}`;
}
