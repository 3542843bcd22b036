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
  "the platform's transaction id: the idempotency key",
  true,
  '^[\\x21-\\x7e]{1,128}$',
  128,
);
const TRIAL = {
  name: 'trialDays',
  in: 'query',
  required: false,
  description:
    'free days granted by the platform; > 0 skips the balance check (the row is written as any sale)',
  schema: { type: 'integer', minimum: 0, maximum: 3650 },
};
const BILLING_TX = idParam(
  'billingTransactionId',
  'what ensure answered; must match it when given',
  false,
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
    'The decision. operation_ensured carries billingTransactionId; operation_commited (sic) carries billingStartTimestamp and also answers a repeated commit, or an ensure of a committed transaction.',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Answer' } } },
};
const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

function operation(summary: string, parameters: object[]) {
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
      '409': error('the qsTransactionId was already used for another sale; nothing was written'),
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
      'Subscription sales from the Smotreshka platform into LANBilling. Ensure checks and reserves; commit writes the services row in one transaction with the account locked. Both are idempotent by qsTransactionId. Access: source address in upsale.allow.',
  },
  paths: {
    '/upsale/v3/add-subscription/ensure': {
      post: operation('check that the offer can be added, and reserve', [
        ...ACCOUNT,
        NEW_OFFER,
        QS_TX,
        TRIAL,
      ]),
    },
    '/upsale/v3/add-subscription/commit': {
      post: operation('add the offer (a basic replaces the active basic)', [
        ...ACCOUNT,
        NEW_OFFER,
        QS_TX,
        TRIAL,
        BILLING_TX,
        START,
      ]),
    },
    '/upsale/v3/replace-subscription/ensure': {
      post: operation('check that oldOfferId can be replaced by newOfferId, and reserve', [
        ...ACCOUNT,
        NEW_OFFER,
        OLD_OFFER,
        QS_TX,
        TRIAL,
      ]),
    },
    '/upsale/v3/replace-subscription/commit': {
      post: operation('switch oldOfferId off and newOfferId on at the same instant', [
        ...ACCOUNT,
        NEW_OFFER,
        OLD_OFFER,
        QS_TX,
        TRIAL,
        BILLING_TX,
        START,
      ]),
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
