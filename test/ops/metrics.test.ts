import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { HealthReport } from '../../src/ops/health.js';
import { createMetrics, metricsRoutes } from '../../src/ops/metrics.js';

const health = (over: Partial<HealthReport> = {}): HealthReport => ({
  healthy: true,
  role: 'active',
  uptimeSeconds: 5,
  billing: { reachable: true },
  capture: { mode: 'triggers', lagMs: 1500, problems: [] },
  queue: { pending: 7 },
  parked: 2,
  platform: { reachable: true } as HealthReport['platform'],
  problems: [],
  ...over,
});

describe('/metrics', () => {
  it('reports the health gauges and the running totals at scrape time', async () => {
    let report = health();
    const calls = { create: 3, enable: 4, disable: 1, state: 6 };
    let platformCalls = 10;
    const metrics = createMetrics({
      health: async () => report,
      platformStats: () => ({
        calls: platformCalls,
        attempts: 12,
        retries: 2,
        inFlight: 1,
        failures: { transient: 1, forbidden: 0, not_found: 0, unknown_subscription: 0, archived_subscription: 1, foreign_username: 0, bad_request: 0, protocol: 0 },
      }),
      reconcileStats: () => ({ reconciles: 9, calls, parked: 1 }),
    });
    const app = Fastify();
    await metricsRoutes(metrics)(app);
    const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body;

    const first = await scrape();
    expect(first).toMatch(/^lifestream_up 1$/m);
    expect(first).toMatch(/^lifestream_pending_accounts 7$/m);
    expect(first).toMatch(/^lifestream_parked_accounts 2$/m);
    expect(first).toMatch(/^lifestream_capture_lag_seconds 1.5$/m);
    expect(first).toMatch(/^lifestream_platform_calls_total 10$/m);
    expect(first).toMatch(/^lifestream_platform_failures_total\{kind="archived_subscription"\} 1$/m);
    expect(first).toMatch(/^lifestream_changes_applied_total\{op="enable"\} 4$/m);
    expect(first).toMatch(/^lifestream_reconciles_total 9$/m);

    report = health({ healthy: false, queue: { pending: 0 } });
    platformCalls = 25;
    const second = await scrape();
    expect(second).toMatch(/^lifestream_up 0$/m);
    expect(second).toMatch(/^lifestream_pending_accounts 0$/m);
    expect(second).toMatch(/^lifestream_platform_calls_total 25$/m);
  });
});
