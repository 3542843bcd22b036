// The service's HTTP server: one fastify instance on `listen`, assembled from route plugins so that
// each concern brings its own routes (/health from src/ops/health.ts, /upsale/v3/... from
// src/upsale/routes.ts, /metrics later) without this file knowing them.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from './log.js';

export type RoutePlugin = (app: FastifyInstance) => void | Promise<void>;

export async function buildServer(opts: { logger: Logger; routes: RoutePlugin[] }): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // every route logs what matters itself; a line per health probe would drown the log
    logController: new LogController({ disableRequestLogging: true }),
  });
  for (const register of opts.routes) await register(app);
  await app.ready();
  return app;
}

/** Listens on `host:port` (port 0 = any free port); returns the base URL. */
export async function listen(app: FastifyInstance, hostPort: string): Promise<string> {
  const i = hostPort.lastIndexOf(':');
  await app.listen({ host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : Number(hostPort.slice(i + 1));
  return `http://${hostPort.slice(0, i)}:${port}`;
}
