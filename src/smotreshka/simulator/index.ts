// A faithful in-memory Smotreshka platform over HTTP, with a control API (/_simulator/) for
// recording, fault injection and platform-side changes. Used by tests, the benchmark and the
// `simulator` command. See README.md beside this file.
import Fastify, { type FastifyError } from 'fastify';
import type { Logger } from '../../log.js';
import type { CatalogueSubscription } from '../types.js';
import { DEFAULT_ARCHIVED_SUBSCRIPTIONS, DEFAULT_CATALOGUE } from './catalogue.js';
import { CONTROL_PREFIX, registerControlRoutes, type SimulatorSettings } from './control.js';
import { FaultInjector } from './faults.js';
import { Platform } from './platform.js';
import { Recorder } from './recorder.js';
import { registerPlatformRoutes } from './routes.js';
import { type CatalogueItem, type IdMode, PlatformStore, type StateWindow } from './store.js';

export { DEFAULT_ARCHIVED_SUBSCRIPTIONS, DEFAULT_CATALOGUE, SAMPLE_SUBSCRIPTION_KINDS } from './catalogue.js';
export { CONTROL_PREFIX, type SimulatorSettings } from './control.js';
export type { FaultKind, FaultRule, FaultRuleInput } from './faults.js';
export { ARCHIVED_SUBSCRIPTION_TEXT, FOREIGN_USERNAME_TEXT } from './platform.js';
export type { CallRecord } from './recorder.js';
export type { CatalogueItem, IdMode, SimAccount, StateWindow, StoredAccountState } from './store.js';
export { FaultInjector, Platform, PlatformStore, Recorder };

/** The spec: stamps >= 2 h in the past or >= 10 min in the future may be refused. */
export const DEFAULT_STATE_WINDOW: StateWindow = { pastMs: 2 * 3600_000, futureMs: 10 * 60_000 };

export interface SimulatorOptions {
  host?: string;
  /** 0 (default) = a free port */
  port?: number;
  /** default: DEFAULT_CATALOGUE; items may carry `archived: true` */
  catalogue?: CatalogueItem[] | readonly CatalogueSubscription[];
  /** ids that can't be enabled; default: DEFAULT_ARCHIVED_SUBSCRIPTIONS with the default catalogue, none otherwise */
  archivedSubscriptions?: string[];
  idMode?: IdMode;
  /** added to every platform call */
  latencyMs?: number;
  /** null accepts any stamp; default DEFAULT_STATE_WINDOW */
  stateTimestampWindow?: StateWindow | null;
  /** calls kept for GET /_simulator/calls (default 50,000) */
  recordLimit?: number;
  /** start-up and shutdown lines only; calls are recorded, not logged */
  logger?: Logger;
  /** clock for timestamps and the account-state window (tests) */
  now?: () => number;
}

export interface Simulator {
  /** base URL, e.g. http://127.0.0.1:8090 */
  url: string;
  port: number;
  store: PlatformStore;
  platform: Platform;
  faults: FaultInjector;
  recorder: Recorder;
  settings(): SimulatorSettings;
  /** back to the start: no accounts, start catalogue and settings, no faults, no recorded calls */
  reset(): void;
  close(): Promise<void>;
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const catalogue = opts.catalogue ?? DEFAULT_CATALOGUE;
  const archived = opts.archivedSubscriptions ?? (opts.catalogue ? [] : DEFAULT_ARCHIVED_SUBSCRIPTIONS);
  const initial: SimulatorSettings = {
    idMode: opts.idMode ?? 'both',
    latencyMs: opts.latencyMs ?? 0,
    stateTimestampWindow:
      opts.stateTimestampWindow === undefined ? DEFAULT_STATE_WINDOW : opts.stateTimestampWindow,
  };
  const store = new PlatformStore(initial.idMode, initial.stateTimestampWindow, catalogue, archived);
  const platform = new Platform(store, opts.now);
  const faults = new FaultInjector();
  const recorder = new Recorder(opts.recordLimit ?? 50_000);
  let latencyMs = initial.latencyMs;

  const settings = (): SimulatorSettings => ({
    idMode: store.idMode,
    latencyMs,
    stateTimestampWindow: store.stateWindow,
  });
  const updateSettings = (patch: Partial<SimulatorSettings>): SimulatorSettings => {
    if (patch.idMode !== undefined) store.idMode = patch.idMode;
    if (patch.latencyMs !== undefined) latencyMs = patch.latencyMs;
    if (patch.stateTimestampWindow !== undefined) store.stateWindow = patch.stateTimestampWindow;
    return settings();
  };
  const reset = (): void => {
    store.clearAccounts();
    store.foreignUsernames.clear();
    store.setCatalogue(catalogue, archived);
    updateSettings(initial);
    faults.clear(true);
    recorder.reset();
  };

  const app = Fastify({
    logger: false,
    // hung calls ('hang' faults) must not keep close() waiting
    forceCloseConnections: true,
    keepAliveTimeout: 75_000,
    // an encoded 100-char username can be 300 chars in a path
    routerOptions: { maxParamLength: 400 },
  });
  // JSON without the prototype-poisoning scan (cheaper per call), and an empty body is no body:
  // reset-password may legitimately come without one.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch {
      const err = new Error('Bad Request: body is not valid JSON') as FastifyError;
      err.statusCode = 400;
      done(err, undefined);
    }
  });
  // Framework-level failures (bad JSON, wrong content type) in the platform's error shapes.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    const text = err.message || 'Internal Server Error';
    reply
      .code(status)
      .send(req.url.startsWith('/accounts/v3/') ? { code: 'bad_request', message: text } : { error: text });
  });
  app.setNotFoundHandler((_req, reply) => {
    reply.code(404).send({ error: 'not found' });
  });

  registerPlatformRoutes(app, { platform, faults, recorder, baseLatencyMs: () => latencyMs });
  registerControlRoutes(app, { platform, faults, recorder, settings, updateSettings, reset });

  const address = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  const port = (app.server.address() as { port: number }).port;
  const url = address.replace(/\/$/, '');
  opts.logger?.info({ url, control: `${url}${CONTROL_PREFIX}/` }, 'platform simulator listening');

  return {
    url,
    port,
    store,
    platform,
    faults,
    recorder,
    settings,
    reset,
    async close() {
      faults.clear(true);
      await app.close();
      opts.logger?.info('platform simulator stopped');
    },
  };
}
