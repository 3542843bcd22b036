// The NOTIFY listener survives what pg-listen alone does not: a database unreachable for longer
// than pg-listen's own retry window (after which it gives up for good). A TCP proxy in front of
// PostgreSQL plays the database going away and coming back; the listener must reconnect, say so
// (onConnected: the reader catches up then), and deliver notifications again.
import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeListener } from '../../src/capture/triggers/listener.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A TCP proxy to PostgreSQL that can be switched off (every connection cut, new ones refused) and on. */
class TcpProxy {
  private server: Server | null = null;
  private sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}
  async on(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }
  async off(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe('the change listener on PostgreSQL', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let listener: ChangeListener;
  const channel = 'lifestream_changes';

  beforeAll(async () => {
    db = await createTestDatabase('pg', 'listen');
    const u = new URL(db.url);
    proxy = new TcpProxy(await freePort(), { host: u.hostname, port: Number(u.port || 5432) });
    await proxy.on();
  });
  afterAll(async () => {
    await listener?.stop();
    await proxy?.off();
    await db?.drop();
  });

  it('reconnects after pg-listen gives up, and notifications flow again', async () => {
    const via = new URL(db.url);
    via.port = String(proxy.port);
    let connects = 0;
    let notified = 0;
    const messages: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => messages.push(JSON.parse(line).msg) });
    listener = new ChangeListener({
      connectionString: via.toString(),
      channel,
      onNotify: () => notified++,
      onConnected: () => connects++,
      logger,
      retryTimeoutMs: 500,
      maxBackoffMs: 500,
    });
    listener.start();
    const notify = async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query(`NOTIFY ${channel}`);
      await c.end();
    };
    const until = async (check: () => boolean, what: string) => {
      const end = Date.now() + 10_000;
      while (!check()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(20);
      }
    };
    await until(() => connects === 1 && listener.connected, 'the first connection');
    await notify();
    await until(() => notified === 1, 'the first notification');

    // gone for four times pg-listen's retry window: it gives up, the listener does not
    await proxy.off();
    await until(() => !listener.connected, 'the loss to be noticed');
    await sleep(2_000);
    await proxy.on();
    await until(() => connects >= 2 && listener.connected, 'the reconnection');
    await notify();
    await until(() => notified === 2, 'a notification after the reconnection');
    expect(connects).toBeGreaterThanOrEqual(2);
    // it was pg-listen's give-up that the listener recovered from, not pg-listen's own retry
    expect(messages).toContain('change notifications unavailable; polling meanwhile, reconnecting');
  });
});
