// What the platform may send to the upsale endpoints, validated before anything is read. Values
// are bounded in length and alphabet so that whatever passes fits the columns it goes to
// (service_categories.uuid varchar(40), services.external_data varchar(255)) and is safe in logs.
// Only one public implementation of this API exists (spec/smotreshka-api.md): unknown query
// parameters and unknown context fields are ignored rather than refused, so a platform that adds
// one doesn't stop selling.
import { z } from 'zod';

/** Platform subscription ids are short strings ("100", "5010"); the billing column is varchar(40). */
const offerId = z.string().regex(/^[A-Za-z0-9_.:@+\-/]{1,40}$/, '1-40 characters of [A-Za-z0-9_.:@+-/]');

/** The platform's username alphabet (spec), also used for its account ids (24 hex chars). */
const accountName = z.string().regex(/^[a-zA-Z0-9_@.+\-/]{1,100}$/, '1-100 characters of [a-zA-Z0-9_@.+-/]');

/** Opaque transaction ids: printable ASCII without spaces, at most 128 characters. */
const transactionId = z
  .string()
  .regex(/^[\x21-\x7e]{1,128}$/, '1-128 printable ASCII characters without spaces');

/** A query-string integer: digits only (no "1e3", no "0x10", no sign), 0..3650. */
const trialDays = z
  .string()
  .regex(/^\d{1,4}$/, 'a whole number of days, 0-3650')
  .transform(Number)
  .pipe(z.number().int().min(0).max(3650));

/** RFC 3339 with a zone (Z or ±hh:mm), e.g. 2026-11-25T20:07:37Z or 2026-11-25T23:07:37.5+03:00. */
const rfc3339 = z.iso
  .datetime({ offset: true, message: 'an RFC 3339 date-time with a time zone, e.g. 2026-11-25T20:07:37Z' })
  .transform((v) => new Date(v))
  .refine((d) => Number.isFinite(d.getTime()), 'not a real date-time');

const accountNames = {
  accountId: accountName.optional(),
  accountLogin: accountName.optional(),
};
const needsAccount = (q: { accountId?: string | undefined; accountLogin?: string | undefined }) =>
  q.accountId !== undefined || q.accountLogin !== undefined;
const accountMessage = { message: 'accountId or accountLogin is required', path: ['accountId'] };

const commitExtras = {
  /** what ensure answered for this qsTransactionId: a commit without its ensure writes nothing */
  billingTransactionId: z
    .string({ error: (i) => (i.input === undefined ? 'required: the value ensure answered' : undefined) })
    .pipe(transactionId),
  serviceStartTimestamp: rfc3339.optional(),
};

const addBase = {
  ...accountNames,
  newOfferId: offerId,
  qsTransactionId: transactionId,
  trialDays: trialDays.optional(),
};
const replaceBase = { ...addBase, oldOfferId: offerId };

export const addEnsureQuery = z.object(addBase).refine(needsAccount, accountMessage);
export const addCommitQuery = z.object({ ...addBase, ...commitExtras }).refine(needsAccount, accountMessage);
export const replaceEnsureQuery = z.object(replaceBase).refine(needsAccount, accountMessage);
export const replaceCommitQuery = z
  .object({ ...replaceBase, ...commitExtras })
  .refine(needsAccount, accountMessage);

/** The union of the four: what the sale logic takes. */
export interface SaleQuery {
  accountId?: string | undefined;
  accountLogin?: string | undefined;
  newOfferId: string;
  oldOfferId?: string | undefined;
  qsTransactionId: string;
  trialDays?: number | undefined;
  billingTransactionId?: string | undefined;
  serviceStartTimestamp?: Date | undefined;
}

const info = z.record(z.string(), z.unknown()).nullish();
const text = (max: number) => z.string().max(max).nullish();

/** The optional JSON body: context for the logs, never used for a decision. */
export const saleContext = z.object({
  newOfferName: text(255),
  oldOfferName: text(255),
  clientIp: text(64),
  userInfo: info,
  deviceInfo: info,
  appInfo: info,
});

export type SaleContext = z.infer<typeof saleContext>;
