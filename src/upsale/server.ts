// A fastify instance serving only the upsale routes: for tests, and for embedding the endpoints
// where the shared server (src/server.ts) is not used. The shared server mounts the same plugin.
import Fastify, { type FastifyInstance } from 'fastify';
import { registerUpsaleRoutes, type UpsaleDeps } from './routes.js';

export async function buildUpsaleServer(deps: UpsaleDeps): Promise<FastifyInstance> {
  // fastify's own request log is off: the routes log each decision with what matters
  const app = Fastify({ logger: false });
  await registerUpsaleRoutes(app, deps);
  await app.ready();
  return app;
}
