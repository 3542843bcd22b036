// OpenAPI 3 description of the upsale endpoints as this service implements them, served at
// GET /upsale/v3/openapi.json for the operator to hand to the platform's support. It follows the
// only public description of upsale v3 (spec/smotreshka-api.md) and states this service's choices.

const idParam = (
  name: string,
  description: string,
  required: boolean,
  pattern: string,
  maxLength: number,
) => ({
  name,
  in: 'query',
  required,
  description,
  schema: { type: 'string', pattern, maxLength },
});

const ACCOUNT = [
  idParam(
    'accountId',
    "the platform's account id; looked up in the service's account mapping first",
    false,
    '^[a-zA-Z0-9_@.+\\-/]{1,100}$',
    100,
  ),
  idParam(
    'accountLogin',
    'the platform username = usernamePrefix + vgroups.login; used when accountId is unknown',
    false,
    '^[a-zA-Z0-9_@.+\\-/]{1,100}$',
    100,
  ),
];
const NEW_OFFER = idParam(
  'newOfferId',
  'subscription to sell = service_categories.uuid',
  true,
  '^[A-Za-z0-9_.:@+\\-/]{1,40}$',
  40,
);
const OLD_OFFER = idParam(
  'oldOfferId',
  'subscription to switch off (must be active)',
  true,
  '^[A-Za-z0-9_.:@+\\-/]{1,40}$',
  40,
);
const QS_TX = idParam(
  'qsTransactionId',
  "the platform's transaction id: the idempotency key, bound at its first accepted ensure to one sale (account, operation, offers, trialDays)",
  true,
  '^[\\x21-\\x7e]{1,128}$',
  128,
);
const TRIAL = {
  name: 'trialDays',
  in: 'query',
  required: false,
  description:
    'free days granted by the platform; > 0 skips the balance check (the row is written as any sale). Bound at the first ensure: later calls may omit it (= as bound) but not change it (409)',
  schema: { type: 'integer', minimum: 0, maximum: 3650 },
};
const BILLING_TX = idParam(
  'billingTransactionId',
  'the value ensure answered for this qsTransactionId: required (400 when missing); 404 when the qsTransactionId was never ensured, 409 when it is another value',
  true,
  '^[\\x21-\\x7e]{1,128}$',
  128,
);
const START = {
  name: 'serviceStartTimestamp',
  in: 'query',
  required: false,
  description:
    'RFC 3339 with a zone; the services row starts then (default: now). From 24 h ago to 31 days ahead.',
  schema: { type: 'string', format: 'date-time' },
};

const answer = {
  description:
    "The decision. operation_ensured carries billingTransactionId; operation_commited (sic) carries billingStartTimestamp and also answers a repeated commit, or an ensure of a committed transaction. no_sufficient_balance: balance + credit, less what the agreement still owes for rows this service wrote that the billing has not activated, is below the price. no_subscription_rules also refuses a basic sale when the account's basic changed since its ensure (another sale was committed first), and an offer (or, for a basic, any basic) planned to start after the sale.",
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Answer' } } },
};
const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const conflict = {
  description:
    'the qsTransactionId is bound to another sale (account, operation, offers, trialDays) or the billingTransactionId is not the one ensure answered; nothing was decided or written',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Conflict' } } },
};

function operation(summary: string, parameters: object[], commit: boolean) {
  return {
    summary,
    parameters,
    requestBody: {
      required: false,
      description: 'context for the logs only; at most 16 KiB by default (upsale.maxBodyBytes)',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Context' } } },
    },
    responses: {
      '200': answer,
      '400': error('a parameter or the body is missing, malformed or out of range; nothing was written'),
      '403': error('the caller is not in upsale.allow; nothing was read'),
      ...(commit
        ? {
            '404': error(
              'the qsTransactionId was never ensured (or its ensure was refused); nothing was written',
            ),
          }
        : {}),
      '409': conflict,
      '413': error('the body is larger than upsale.maxBodyBytes'),
      '415': error('a non-empty body that is not application/json'),
      '500': error('the billing could not be reached or failed; send it again (idempotent)'),
    },
  };
}

export const upsaleOpenApi = {
  openapi: '3.0.3',
  info: {
    title: 'lbcore-lifestream upsale v3',
    version: '3',
    description:
      'Subscription sales from the Smotreshka platform into LANBilling. Ensure checks the sale and binds the qsTransactionId to it (no money is reserved); commit, with the billingTransactionId ensure answered, checks again and writes the services row in one transaction with the account and its agreement locked. Both are idempotent by qsTransactionId. Access: source address in upsale.allow.',
  },
  paths: {
    '/upsale/v3/add-subscription/ensure': {
      post: operation(
        'check that the offer can be added, and reserve',
        [...ACCOUNT, NEW_OFFER, QS_TX, TRIAL],
        false,
      ),
    },
    '/upsale/v3/add-subscription/commit': {
      post: operation(
        'add the offer (a basic replaces the active basic)',
        [...ACCOUNT, NEW_OFFER, QS_TX, TRIAL, BILLING_TX, START],
        true,
      ),
    },
    '/upsale/v3/replace-subscription/ensure': {
      post: operation(
        'check that oldOfferId can be replaced by newOfferId, and reserve',
        [...ACCOUNT, NEW_OFFER, OLD_OFFER, QS_TX, TRIAL],
        false,
      ),
    },
    '/upsale/v3/replace-subscription/commit': {
      post: operation(
        'switch oldOfferId off and newOfferId on at the same instant',
        [...ACCOUNT, NEW_OFFER, OLD_OFFER, QS_TX, TRIAL, BILLING_TX, START],
        true,
      ),
    },
  },
  components: {
    schemas: {
      Answer: {
        type: 'object',
        required: ['result'],
        properties: {
          result: {
            type: 'string',
            enum: [
              'operation_ensured',
              'operation_commited',
              'no_action_required',
              'no_sufficient_balance',
              'no_subscription_rules',
            ],
          },
          billingTransactionId: { type: 'string' },
          billingStartTimestamp: { type: 'string', format: 'date-time' },
        },
      },
      Error: {
        type: 'object',
        required: ['error', 'message'],
        properties: { error: { type: 'string' }, message: { type: 'string' } },
      },
      Conflict: {
        type: 'object',
        required: ['error', 'message', 'mismatch'],
        properties: {
          error: { type: 'string', enum: ['transaction_conflict'] },
          message: { type: 'string' },
          mismatch: {
            type: 'array',
            description: 'the parameters that differ from the bound sale',
            items: {
              type: 'string',
              enum: ['account', 'operation', 'newOfferId', 'oldOfferId', 'trialDays', 'billingTransactionId'],
            },
          },
        },
      },
      Context: {
        type: 'object',
        properties: {
          newOfferName: { type: 'string', maxLength: 255 },
          oldOfferName: { type: 'string', maxLength: 255 },
          clientIp: { type: 'string', maxLength: 64 },
          userInfo: { type: 'object', additionalProperties: true },
          deviceInfo: { type: 'object', additionalProperties: true },
          appInfo: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
} as const;
