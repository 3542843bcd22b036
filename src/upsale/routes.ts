// The four upsale v3 endpoints and their OpenAPI description, as one encapsulated fastify plugin
// under /upsale/v3. Order of checks, cheapest and safest first: the caller's address (403, before
// the body is even read), the body's size and type (413/415), the query and body (400), and only
// then the billing. Every refusal is `{error, message}` JSON; every decision is HTTP 200.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { z } from 'zod';
import type { BillingClock } from '../billing/clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { SaleKind } from '../state/upsale-journal.js';
import { allowList } from './allow.js';
import { invalid, UpsaleRejection } from './errors.js';
import { upsaleOpenApi } from './openapi.js';
import { commitSale, ensureSale, type SaleDeps } from './sale.js';
import {
  addCommitQuery,
  addEnsureQuery,
  replaceCommitQuery,
  replaceEnsureQuery,
  type SaleContext,
  type SaleQuery,
  saleContext,
} from './schema.js';

export const UPSALE_PREFIX = '/upsale/v3';

export interface UpsaleDeps extends Omit<SaleDeps, 'now'> {
  /** upsale.allow: CIDRs or addresses allowed to call */
  allow: readonly string[];
  /** upsale.maxBodyBytes */
  maxBodyBytes: number;
  now?: () => Date;
}

export function upsaleDepsFromConfig(
  config: Config,
  knex: Knex,
  logger: Logger,
  clock: BillingClock,
): UpsaleDeps {
  return {
    knex,
    clock,
    logger,
    allow: config.upsale.allow,
    maxBodyBytes: config.upsale.maxBodyBytes,
    serviceComment: config.upsale.serviceComment,
    tablePrefix: config.state.tablePrefix,
    usernamePrefix: config.smotreshka.usernamePrefix,
    emailTemplate: config.smotreshka.emailTemplate,
  };
}

type Step = 'ensure' | 'commit';

const QUERIES: Record<SaleKind, Record<Step, z.ZodType<SaleQuery>>> = {
  add: { ensure: addEnsureQuery, commit: addCommitQuery },
  replace: { ensure: replaceEnsureQuery, commit: replaceCommitQuery },
};

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    // one line naming each offending field, e.g. "query: trialDays: a whole number of days, 0-3650"
    const problems = r.error.issues.map((i) => `${i.path.map(String).join('.') || '(whole)'}: ${i.message}`);
    throw invalid(`${what}: ${problems.join('; ')}`);
  }
  return r.data;
}

function sendError(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).type('application/json').send({ error, message });
}

/** fastify's own refusals (body too large, bad media type, …) in our error shape. */
function fastifyRejection(err: FastifyError): { status: number; error: string } | null {
  const status = err.statusCode ?? 0;
  if (status < 400 || status >= 500) return null;
  if (status === 413) return { status, error: 'payload_too_large' };
  if (status === 415) return { status, error: 'unsupported_media_type' };
  return { status, error: 'invalid_request' };
}

export async function registerUpsaleRoutes(app: FastifyInstance, deps: UpsaleDeps): Promise<void> {
  const allowed = allowList(deps.allow); // throws at start on a bad entry
  const saleDeps: SaleDeps = { ...deps, now: deps.now ?? (() => new Date()) };
  const log = deps.logger;

  await app.register(
    async (scope) => {
      // request.ip is the TCP peer unless the server was deliberately built with trustProxy
      scope.addHook('onRequest', async (req, reply) => {
        if (!allowed(req.ip)) {
          log.warn(
            { ip: req.ip, url: req.url.split('?')[0] },
            'upsale call from an address outside upsale.allow',
          );
          return sendError(
            reply,
            403,
            'forbidden',
            'this address may not call the upsale endpoints (upsale.allow)',
          );
        }
      });

      // Only JSON bodies (or none). An empty body is "no context", whatever its declared type.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser(
        'application/json',
        { parseAs: 'string', bodyLimit: deps.maxBodyBytes },
        (_req, body, done) => {
          const text = String(body);
          if (text.trim() === '') return done(null, undefined);
          try {
            done(null, JSON.parse(text));
          } catch {
            done(invalid('the body is not valid JSON'), undefined);
          }
        },
      );
      scope.addContentTypeParser(
        '*',
        { parseAs: 'string', bodyLimit: deps.maxBodyBytes },
        (req, body, done) => {
          if (String(body).length === 0) return done(null, undefined);
          done(
            new UpsaleRejection(
              415,
              'unsupported_media_type',
              `a body must be application/json, not ${req.headers['content-type']}`,
            ),
            undefined,
          );
        },
      );

      scope.setErrorHandler((err: FastifyError, req, reply) => {
        if (err instanceof UpsaleRejection) return sendError(reply, err.status, err.code, err.message);
        const known = fastifyRejection(err);
        if (known) return sendError(reply, known.status, known.error, err.message);
        log.error({ err, url: req.url.split('?')[0] }, 'upsale call failed');
        return sendError(
          reply,
          500,
          'internal_error',
          'the billing could not complete the request; send it again',
        );
      });
      scope.setNotFoundHandler((req, reply) =>
        sendError(reply, 404, 'not_found', `no such upsale endpoint: ${req.method} ${req.url.split('?')[0]}`),
      );

      scope.get('/openapi.json', async () => upsaleOpenApi);

      for (const kind of ['add', 'replace'] as const) {
        for (const step of ['ensure', 'commit'] as const) {
          scope.post(
            `/${kind}-subscription/${step}`,
            { bodyLimit: deps.maxBodyBytes },
            async (req: FastifyRequest) => {
              const query = parse(QUERIES[kind][step], req.query, 'query');
              const context: SaleContext | null =
                req.body === undefined ? null : parse(saleContext, req.body, 'body');
              const outcome =
                step === 'ensure'
                  ? await ensureSale(saleDeps, kind, query)
                  : await commitSale(saleDeps, kind, query);
              log.info(
                {
                  upsale: `${kind}/${step}`,
                  qsTransactionId: query.qsTransactionId,
                  vgId: outcome.vgId,
                  newOfferId: query.newOfferId,
                  oldOfferId: query.oldOfferId,
                  result: outcome.answer.result,
                  reason: outcome.reason,
                  offerName: context?.newOfferName ?? undefined,
                  clientIp: context?.clientIp ?? undefined,
                },
                'upsale decision',
              );
              if (context) log.debug({ qsTransactionId: query.qsTransactionId, context }, 'upsale context');
              return outcome.answer;
            },
          );
        }
      }
    },
    { prefix: UPSALE_PREFIX },
  );
}
