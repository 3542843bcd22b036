// GET /health: is propagation working? Healthy = the billing database answers, this instance is
// working (or standing by while another holds the leader lock), the change log is being drained
// (its oldest unhandled change is younger than MAX_LAG_MS), in trigger mode every capture trigger
// is in place and as installed (a LANBilling upgrade may drop them; src/capture/triggers/watch.ts),
// and the platform's last answer was not a transient failure. Parked accounts are reported but
// don't make the service unhealthy: they are per-account problems an operator fixes in the
// billing, and the rest keeps flowing.
import type { FastifyInstance } from 'fastify';
import type { PlatformStatus } from './platform-watch.js';

export const MAX_LAG_MS = 60_000;

export interface HealthSources {
  pingBilling(): Promise<void>;
  /** age of the oldest change not yet handled (ms); null when none or no change log */
  captureLagMs(): Promise<number | null>;
  pendingCount(): Promise<number>;
  parkedCount(): Promise<number>;
  platform(): PlatformStatus;
  /** active = holds the leader lock and works; standby = another instance does */
  role(): 'active' | 'standby';
  captureMode: string;
  /** debezium mode: the connector watch and the consumer group membership (capture/debezium/capture.ts) */
  captureStatus?: () => { problems: string[]; detail: Record<string, unknown> };
  /** trigger mode: what is wrong with the capture objects (missing, altered, a dropped definer) */
  captureProblems?(): string[];
  startedAt: Date;
}

export interface HealthReport {
  healthy: boolean;
  role: 'active' | 'standby';
  uptimeSeconds: number;
  billing: { reachable: boolean; error?: string };
  capture: { mode: string; lagMs: number | null; problems: string[]; [detail: string]: unknown };
  queue: { pending: number | null };
  parked: number | null;
  platform: PlatformStatus;
  problems: string[];
}

async function settle<T>(p: Promise<T>): Promise<{ value: T | null; error: string | null }> {
  try {
    return { value: await p, error: null };
  } catch (err) {
    return { value: null, error: (err as Error).message };
  }
}

export async function checkHealth(s: HealthSources): Promise<HealthReport> {
  const [ping, lag, pending, parked] = await Promise.all([
    settle(s.pingBilling()),
    settle(s.captureLagMs()),
    settle(s.pendingCount()),
    settle(s.parkedCount()),
  ]);
  const platform = s.platform();
  const problems: string[] = [];
  if (ping.error) problems.push(`billing database: ${ping.error}`);
  if (lag.value !== null && lag.value > MAX_LAG_MS)
    problems.push(`capture lag ${Math.round(lag.value / 1000)} s`);
  const captureProblems = s.captureProblems?.() ?? [];
  problems.push(...captureProblems);
  if (platform.reachable === false) problems.push(`platform: ${platform.lastError ?? 'unreachable'}`);
  const capture = s.captureStatus?.() ?? { problems: [], detail: {} };
  problems.push(...capture.problems.map((p) => `capture: ${p}`));
  return {
    healthy: problems.length === 0,
    role: s.role(),
    uptimeSeconds: Math.round((Date.now() - s.startedAt.getTime()) / 1000),
    billing: ping.error ? { reachable: false, error: ping.error } : { reachable: true },
    capture: { mode: s.captureMode, lagMs: lag.value, problems: captureProblems, ...capture.detail },
    queue: { pending: pending.value },
    parked: parked.value,
    platform,
    problems,
  };
}

/** The /health route plugin; `report` is checkHealth bound to the service's sources. */
export function healthRoutes(check: () => Promise<HealthReport>) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/health', async (_req, reply) => {
      const report = await check();
      return reply.code(report.healthy ? 200 : 503).send(report);
    });
  };
}
