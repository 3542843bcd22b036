// The control API under /_simulator/: look at what the platform was asked, inject faults, change
// the platform's state behind the billing's back, reset. For tests and for an operator trying
// things out; README.md beside this file lists it with curl examples. Not recorded, never faulted.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { type FaultInjector, faultRuleInput } from './faults.js';
import type { Platform } from './platform.js';
import type { Recorder } from './recorder.js';
import { accountDump } from './store.js';
import { USERNAME_RE } from './validate.js';

export const CONTROL_PREFIX = '/_simulator';

export interface SimulatorSettings {
  idMode: 'accountId' | 'username' | 'both';
  /** added to every platform call */
  latencyMs: number;
  /** account-state stamps outside it are refused; null accepts any stamp */
  stateTimestampWindow: { pastMs: number; futureMs: number } | null;
}

export interface ControlDeps {
  platform: Platform;
  faults: FaultInjector;
  recorder: Recorder;
  settings(): SimulatorSettings;
  updateSettings(patch: Partial<SimulatorSettings>): SimulatorSettings;
  reset(): void;
}

/** A catalogue as PUT /_simulator/catalogue and `simulator --catalogue FILE` take it. */
export const catalogueInput = z.array(
  z.looseObject({ id: z.string().min(1), name: z.string(), archived: z.boolean().optional() }),
);
const subscriptionsInput = z.union([
  z.array(z.string().min(1)),
  z.object({ subscriptions: z.array(z.string().min(1)) }).strict(),
]);
const usernamesInput = z.object({ usernames: z.array(z.string().regex(USERNAME_RE)).min(1) }).strict();
const settingsInput = z
  .object({
    idMode: z.enum(['accountId', 'username', 'both']).optional(),
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    stateTimestampWindow: z
      .object({ pastMs: z.number().int().min(0), futureMs: z.number().int().min(0) })
      .strict()
      .nullable()
      .optional(),
  })
  .strict();
const callsQuery = z.object({
  since: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(100_000).default(1000),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, reply: FastifyReply): T | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  reply.code(400).send({ error: z.prettifyError(r.error) });
  return undefined;
}

export function registerControlRoutes(app: FastifyInstance, deps: ControlDeps): void {
  const { platform, faults, recorder } = deps;
  const store = platform.store;
  const p = CONTROL_PREFIX;

  app.get(`${p}/calls`, (req, reply) => {
    const q = parse(callsQuery, req.query, reply);
    if (q) return recorder.since(q.since, q.limit);
  });
  app.delete(`${p}/calls`, () => ({ cleared: recorder.clear() }));
  app.get(`${p}/stats`, () => ({
    ...recorder.stats(),
    accounts: store.listed().length,
    archivedAccounts: store.all().length - store.listed().length,
    faults: faults.list().length,
    heldCalls: faults.heldCount,
  }));

  app.get(`${p}/faults`, () => ({ faults: faults.list() }));
  app.post(`${p}/faults`, (req, reply) => {
    const rule = parse(faultRuleInput, req.body, reply);
    if (rule) return reply.code(201).send(faults.add(rule));
  });
  app.delete(`${p}/faults`, () => ({ removed: faults.clear() }));
  app.delete<{ Params: { id: string } }>(`${p}/faults/:id`, (req, reply) => {
    if (!faults.remove(Number(req.params.id))) return reply.code(404).send({ error: 'no such fault rule' });
    return { removed: 1 };
  });

  app.post(`${p}/reset`, () => {
    deps.reset();
    return { reset: true };
  });

  app.get(`${p}/accounts`, () => ({ accounts: store.all().map(accountDump) }));
  app.put<{ Params: { username: string } }>(`${p}/accounts/:username/subscriptions`, (req, reply) => {
    const input = parse(subscriptionsInput, req.body, reply);
    if (!input) return;
    const answer = platform.replaceSubscriptions(
      req.params.username,
      Array.isArray(input) ? input : input.subscriptions,
    );
    return reply.code(answer.status).send(answer.body);
  });

  app.get(`${p}/foreign-usernames`, () => ({ usernames: [...store.foreignUsernames] }));
  app.post(`${p}/foreign-usernames`, (req, reply) => {
    const input = parse(usernamesInput, req.body, reply);
    if (!input) return;
    for (const u of input.usernames) store.foreignUsernames.add(u);
    return { usernames: [...store.foreignUsernames] };
  });
  app.delete<{ Params: { username: string } }>(`${p}/foreign-usernames/:username`, (req) => {
    store.foreignUsernames.delete(req.params.username);
    return { usernames: [...store.foreignUsernames] };
  });

  app.get(`${p}/catalogue`, () => store.catalogueItems());
  app.put(`${p}/catalogue`, (req, reply) => {
    const items = parse(catalogueInput, req.body, reply);
    if (!items) return;
    store.setCatalogue(items);
    return store.catalogueItems();
  });

  app.get(`${p}/settings`, () => deps.settings());
  app.put(`${p}/settings`, (req, reply) => {
    const patch = parse(settingsInput, req.body, reply);
    if (patch) return deps.updateSettings(patch);
  });
}
