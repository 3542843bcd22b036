// GET /metrics: Prometheus text format. Gauges are read at scrape time from the same sources as
// /health, counters from the platform client's and the reconciler's running totals, so nothing is
// counted twice and a scrape costs a few cheap queries.
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { PlatformClientStats } from '../smotreshka/client.js';
import type { HealthReport } from './health.js';

export interface MetricsSources {
  health(): Promise<HealthReport>;
  platformStats?: () => PlatformClientStats;
  reconcileStats?: () => { reconciles: number; calls: Record<string, number>; parked: number };
  /** more collectors on the same registry (debezium mode: capture/debezium/metrics.ts) */
  register?: (registry: Registry) => void;
}

export interface Metrics {
  registry: Registry;
  /** reads the health sources once, then renders every metric */
  scrape(): Promise<string>;
}

/** A registry whose collectors pull from `sources` at scrape time. */
export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lifestream_' });
  // One health read per scrape, shared by the gauges below (collectors run concurrently).
  let last: HealthReport | null = null;

  const gauge = (name: string, help: string, pick: (h: HealthReport) => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = last === null ? null : pick(last);
        if (v !== null) this.set(v);
      },
    });
  gauge('lifestream_up', '1 when /health is healthy', (h) => (h.healthy ? 1 : 0));
  gauge('lifestream_active', '1 on the instance doing the work (leader), 0 on a standby', (h) => (h.role === 'active' ? 1 : 0));
  gauge('lifestream_pending_accounts', 'accounts queued for a reconcile', (h) => h.queue.pending);
  gauge('lifestream_parked_accounts', 'accounts parked by a permanent error', (h) => h.parked);
  gauge('lifestream_capture_lag_seconds', 'age of the oldest change not yet handled', (h) =>
    h.capture.lagMs === null ? 0 : h.capture.lagMs / 1000,
  );
  gauge('lifestream_billing_up', '1 when the billing database answers', (h) => (h.billing.reachable ? 1 : 0));

  if (sources.platformStats) {
    const stats = sources.platformStats;
    new Counter({
      name: 'lifestream_platform_calls_total',
      help: 'platform API calls made (retries not counted)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats().calls);
      },
    });
    new Counter({
      name: 'lifestream_platform_retries_total',
      help: 'retries of transient platform failures',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats().retries);
      },
    });
    new Counter({
      name: 'lifestream_platform_failures_total',
      help: 'platform calls that failed after retries, by error kind',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [kind, n] of Object.entries(stats().failures)) this.inc({ kind }, n);
      },
    });
    new Gauge({
      name: 'lifestream_platform_in_flight',
      help: 'platform requests in flight',
      registers: [registry],
      collect() {
        this.set(stats().inFlight);
      },
    });
  }
  if (sources.reconcileStats) {
    const stats = sources.reconcileStats;
    new Counter({
      name: 'lifestream_reconciles_total',
      help: 'account reconciles run',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats().reconciles);
      },
    });
    new Counter({
      name: 'lifestream_changes_applied_total',
      help: 'changing platform calls made by reconciles, by operation',
      labelNames: ['op'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [op, n] of Object.entries(stats().calls)) this.inc({ op }, n);
      },
    });
  }
  sources.register?.(registry);
  return {
    registry,
    async scrape() {
      last = await sources.health();
      return registry.metrics();
    },
  };
}

export function metricsRoutes(metrics: Metrics) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/metrics', async (_req, reply) => {
      const body = await metrics.scrape();
      return reply.header('content-type', metrics.registry.contentType).send(body);
    });
  };
}
