// The platform's HTTP surface. Each route is one line mapping the request onto Platform; the
// wrapper around it counts calls in flight, applies fault rules and records the call. With no
// fault rule and no base latency the wrapper stays synchronous: no promise, no timer per call.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FaultInjector, FaultRule, FaultTarget } from './faults.js';
import type { Platform, SimAnswer } from './platform.js';
import type { CallRecord, Recorder } from './recorder.js';

type Req = FastifyRequest<{ Params: { id?: string }; Querystring: Record<string, string | undefined> }>;

export interface RouteDeps {
  platform: Platform;
  faults: FaultInjector;
  recorder: Recorder;
  /** added to every platform call (`--latency`) */
  baseLatencyMs(): number;
}

interface CallContext {
  route: string;
  v3: boolean;
  at: number;
  started: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function registerPlatformRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { platform, faults, recorder } = deps;
  const routes: [method: 'GET' | 'POST' | 'DELETE', url: string, run: (req: Req) => SimAnswer][] = [
    ['GET', '/v2/accounts', (req) => platform.listAccounts(req.query)],
    ['POST', '/v2/accounts', (req) => platform.createAccount(req.body)],
    ['GET', '/v2/accounts/:id', (req) => platform.getAccount(req.params.id!)],
    ['DELETE', '/v2/accounts/:id', (req) => platform.deleteAccount(req.params.id!)],
    ['POST', '/v2/accounts/:id/update', (req) => platform.updateAccount(req.params.id!, req.body)],
    ['POST', '/v2/accounts/:id/reset-password', (req) => platform.resetPassword(req.params.id!, req.body)],
    ['GET', '/v2/subscriptions', () => platform.listSubscriptions()],
    ['GET', '/v2/accounts/:id/subscriptions', (req) => platform.accountSubscriptions(req.params.id!)],
    ['POST', '/v2/accounts/:id/subscriptions', (req) => platform.setSubscription(req.params.id!, req.body)],
    [
      'POST',
      '/accounts/v3/:id/account-state',
      (req) => platform.pushAccountState(req.params.id!, req.body, req.query.delayed === 'true'),
    ],
  ];

  for (const [method, url, run] of routes) {
    const route = `${method} ${url}`;
    const v3 = url.startsWith('/accounts/v3/');
    app.route({
      method,
      url,
      handler(req: Req, reply: FastifyReply) {
        const ctx: CallContext = { route, v3, at: Date.now(), started: performance.now() };
        recorder.enter();
        try {
          if (!faults.active && deps.baseLatencyMs() === 0) {
            answer(req, reply, ctx, run(req));
            return;
          }
          return withFaults(req, reply, ctx, run).catch(leaveAndRethrow);
        } catch (err) {
          leaveAndRethrow(err);
        }
      },
    });
  }

  // A bug in the simulator must not leave the in-flight count wrong; fastify answers 500.
  function leaveAndRethrow(err: unknown): never {
    recorder.leave();
    throw err;
  }

  function answer(req: Req, reply: FastifyReply, ctx: CallContext, res: SimAnswer, fault?: string): void {
    reply.code(res.status);
    if (typeof res.body === 'string') reply.type('text/plain; charset=utf-8');
    reply.send(res.body);
    finish(req, ctx, res.status, res.ignored, fault);
  }

  function finish(req: Req, ctx: CallContext, status: number, ignored?: boolean, fault?: string): void {
    recorder.leave();
    const call: Omit<CallRecord, 'seq'> = {
      at: ctx.at,
      method: req.method,
      path: pathOf(req),
      route: ctx.route,
      query: req.query,
      body: req.body,
      status,
      ms: performance.now() - ctx.started,
    };
    if (ignored) call.ignored = true;
    if (fault) call.fault = fault;
    recorder.record(call);
  }

  async function withFaults(req: Req, reply: FastifyReply, ctx: CallContext, run: (req: Req) => SimAnswer) {
    const decision = faults.active ? faults.decide(target(req)) : { delayMs: 0 };
    const delay = deps.baseLatencyMs() + decision.delayMs;
    if (delay > 0) await sleep(delay);
    const rule = decision.rule;
    if (!rule) return answer(req, reply, ctx, run(req));
    switch (rule.kind) {
      case 'reset':
        reply.hijack();
        req.raw.socket.destroy();
        return finish(req, ctx, 0, false, rule.kind);
      case 'hang': {
        const proceed = await faults.hold(rule.id, (listener) => reply.raw.once('close', listener));
        if (proceed) return answer(req, reply, ctx, run(req), rule.kind);
        reply.hijack();
        return finish(req, ctx, 0, false, rule.kind);
      }
      case 'latency':
        // decide() never returns a latency rule as the deciding one; kept for exhaustiveness.
        return answer(req, reply, ctx, run(req), rule.kind);
      default:
        if (rule.kind === '429' && rule.retryAfter !== undefined)
          reply.header('retry-after', String(rule.retryAfter));
        return answer(req, reply, ctx, faultAnswer(rule, ctx.v3), rule.kind);
    }
  }

  /** What the call is about, resolved through the store, so rules can match by account. */
  function target(req: Req): FaultTarget {
    const t: FaultTarget = { method: req.method, path: pathOf(req) };
    const ref = req.params.id;
    if (ref !== undefined) {
      t.ref = ref;
      const account = platform.store.resolve(ref);
      if (account) t.account = { id: account.id, username: account.username };
    } else {
      const username = (req.body as { username?: unknown } | undefined)?.username;
      if (typeof username === 'string') t.account = { username };
    }
    return t;
  }
}

/** The path as sent, without the query string. */
function pathOf(req: Req): string {
  const q = req.url.indexOf('?');
  return q === -1 ? req.url : req.url.slice(0, q);
}

/** The answer of a failing rule, in the error form of the API it hits (v2 `{error}`, v3 `{code, message}`). */
function faultAnswer(rule: FaultRule, v3: boolean): SimAnswer {
  const err = (status: number, text: string, code: string): SimAnswer => ({
    status,
    body: v3 ? { code, message: text } : { error: text },
  });
  switch (rule.kind) {
    case '5xx':
      return err(rule.status ?? 500, 'Internal Server Error (simulated)', 'internal');
    case '429':
      return err(429, 'Too Many Requests (simulated)', 'too_many_requests');
    case '403':
      return err(403, 'Forbidden (simulated)', 'forbidden');
    default:
      return { status: rule.status ?? 200, body: rule.body ?? {} };
  }
}
