// End-to-end smoke test of the Debezium capture path on the real local stack:
// PostgreSQL / MariaDB → Debezium (Kafka Connect) → Kafka → kafkajs.
//
// Needs the stack (`npm run stack:start`) and the databases prepared for change capture
// (`scripts/ci/ensure-databases.sh`). Skips, with a message, when Kafka or Connect don't answer.
// Each run makes its own databases, replication slot, connectors, topics and consumer groups with
// unique names, and removes them afterwards, so it may run beside other tests.
//
// What it proves: the connector templates of connectors/ register through
// scripts/stack/register-connector.sh and run; kafkajs 2.2.4 talks to the chosen Kafka version
// (join a group, fetch, admin offsets by timestamp, set offsets); the envelopes carry
// op c/u/d, before/after images, a tombstone after a delete, decimals as strings and date-times
// as ISO strings that parse to the same instant knex reads from the billing.
// It logs time-to-first-event and commit→consume latencies.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Admin, type Consumer, type EachMessagePayload, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBilling } from '../../src/billing/connect.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { useStack } from '../support/stack.js';

const BROKER = process.env.LIFESTREAM_TEST_KAFKA ?? '127.0.0.1:9092';
const CONNECT_URL = process.env.LIFESTREAM_TEST_CONNECT ?? 'http://127.0.0.1:8083';
const REGISTER = fileURLToPath(new URL('../../scripts/stack/register-connector.sh', import.meta.url));
const DEBEZIUM = {
  postgres: 'io.debezium.connector.postgresql.PostgresConnector',
  mariadb: 'io.debezium.connector.mariadb.MariaDbConnector',
} as const;

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tcpOpen(hostPort: string, timeoutMs = 1000): Promise<boolean> {
  const i = hostPort.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = connect({ host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Why the stack can't be used, or null when Kafka answers and Connect lists the Debezium connectors. */
async function stackProblem(): Promise<string | null> {
  if (!(await tcpOpen(BROKER))) return `Kafka does not answer on ${BROKER}`;
  try {
    const res = await fetch(`${CONNECT_URL}/connector-plugins`, { signal: AbortSignal.timeout(3000) });
    const plugins = (await res.json()) as { class: string }[];
    const missing = Object.values(DEBEZIUM).filter((c) => !plugins.some((p) => p.class === c));
    return missing.length ? `Kafka Connect at ${CONNECT_URL} lacks ${missing.join(', ')}` : null;
  } catch (err) {
    return `Kafka Connect does not answer at ${CONNECT_URL} (${(err as Error).message})`;
  }
}

const problem = await stackProblem();
if (problem) {
  console.warn(
    `[kafka-smoke] SKIPPED: ${problem}. Start the stack with \`npm run stack:start\` ` +
      '(and prepare the databases with scripts/ci/ensure-databases.sh) to run this test.',
  );
}

// ---------------------------------------------------------------------------------------------
// Debezium envelope as the schemaless JSON converter writes it.
interface Envelope {
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: Record<string, unknown> & { connector: string; table: string; db: string };
  op: 'c' | 'u' | 'd' | 'r' | 't' | 'm';
  ts_ms: number;
}
interface Received {
  topic: string;
  partition: number;
  offset: string;
  key: Record<string, unknown> | null;
  value: Envelope | null; // null = tombstone
  at: number; // Date.now() when the consumer got it
}

function received({ topic, partition, message }: EachMessagePayload): Received {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key ? JSON.parse(message.key.toString()) : null,
    value: message.value ? (JSON.parse(message.value.toString()) as Envelope) : null,
    at: Date.now(),
  };
}

/** Collects every message of some topics; waitFor() resolves once a predicate matches. */
class Collector {
  readonly messages: Received[] = [];
  private waiters: { pred: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];

  push(m: Received) {
    this.messages.push(m);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(m)) return true;
      w.resolve(m);
      return false;
    });
  }

  waitFor(pred: (m: Received) => boolean, timeoutMs: number, what: string): Promise<Received> {
    const seen = this.messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${what} within ${timeoutMs} ms (got ${this.messages.length} messages)`)),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }
}

async function connectRest(method: string, path: string): Promise<number> {
  const res = await fetch(`${CONNECT_URL}${path}`, { method, signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.status;
}

/** Stops the connector, forgets its source offsets, deletes it. Best effort: cleanup must go on. */
async function removeConnector(name: string) {
  try {
    if ((await connectRest('PUT', `/connectors/${name}/stop`)) < 300) {
      for (let i = 0; i < 40; i++) {
        const res = await fetch(`${CONNECT_URL}/connectors/${name}/status`);
        const s = (await res.json()) as { connector?: { state?: string } };
        if (s.connector?.state === 'STOPPED') break;
        await sleep(250);
      }
      await connectRest('DELETE', `/connectors/${name}/offsets`);
    }
    await connectRest('DELETE', `/connectors/${name}`);
  } catch (err) {
    console.warn(`[kafka-smoke] could not remove connector ${name}: ${(err as Error).message}`);
  }
}

/** Same instant as knex reads it from the billing (DATETIME/timestamp = wall clock read as UTC). */
function sameInstant(iso: unknown, fromDb: unknown) {
  expect(typeof iso).toBe('string');
  expect(fromDb).toBeInstanceOf(Date);
  expect(Date.parse(iso as string)).toBe((fromDb as Date).getTime());
}

// ---------------------------------------------------------------------------------------------
// One scenario, run on each database: what a consumer must see.
type Kind = keyof typeof DEBEZIUM;

interface Target {
  kind: Kind;
  db: TestDatabase;
  connector: string;
  prefix: string;
  /** the schema part of the topic name: `public` on PostgreSQL, the database on MariaDB */
  schema: string;
  slot?: string;
}

const PROBE_BASE = 1_000_000; // vg_id of rows written only to see when streaming has begun

async function createTables(t: Target) {
  const { knex } = t.db;
  // The minimal shape of the LANBilling tables: enough columns for every type that matters.
  if (t.kind === 'postgres') {
    await knex.raw(`
      CREATE TABLE vgroups (vg_id int PRIMARY KEY, agrm_id int NOT NULL, login varchar(128) NOT NULL,
        blocked smallint NOT NULL DEFAULT 0, acc_ondate timestamp(0), last_mod_date timestamptz NOT NULL DEFAULT now());
      CREATE TABLE services (service_id serial PRIMARY KEY, vg_id int NOT NULL, tar_id int NOT NULL,
        serv_cat_idx int NOT NULL, mul numeric(20,6) NOT NULL DEFAULT 1, timefrom timestamp(0) NOT NULL,
        timeto timestamp(0) NOT NULL DEFAULT '9999-12-31 23:59:59', state smallint NOT NULL DEFAULT 1,
        external_data varchar(255), created timestamptz NOT NULL DEFAULT now());
      CREATE TABLE lifestream_heartbeat (id int PRIMARY KEY, ts timestamptz NOT NULL);
      ALTER TABLE vgroups REPLICA IDENTITY FULL;
      ALTER TABLE services REPLICA IDENTITY FULL;
      CREATE PUBLICATION lifestream_pub FOR TABLE vgroups, services, lifestream_heartbeat;`);
  } else {
    await knex.raw(`CREATE TABLE vgroups (vg_id int PRIMARY KEY, agrm_id int NOT NULL, login varchar(128) NOT NULL,
        blocked tinyint NOT NULL DEFAULT 0, acc_ondate datetime NULL,
        block_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
        last_mod_date timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP) ENGINE=InnoDB`);
    await knex.raw(`CREATE TABLE services (service_id int AUTO_INCREMENT PRIMARY KEY, vg_id int NOT NULL,
        tar_id int NOT NULL, serv_cat_idx int NOT NULL, mul decimal(20,6) NOT NULL DEFAULT 1,
        timefrom datetime NOT NULL, timeto datetime NOT NULL DEFAULT '9999-12-31 23:59:59',
        state tinyint NOT NULL DEFAULT 1, external_data varchar(255) NULL,
        created timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB`);
  }
}

async function register(t: Target): Promise<number> {
  const started = Date.now();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONNECTOR_NAME: t.connector,
    LIFESTREAM_CONNECT_URL: CONNECT_URL,
    KAFKA_BOOTSTRAP_SERVERS: BROKER,
    HEARTBEAT_INTERVAL_MS: '1000',
    REGISTER_TIMEOUT: '90',
  };
  const url = new URL(t.db.url);
  env.DB_HOST = url.hostname;
  env.DB_PORT = url.port || (t.kind === 'postgres' ? '5432' : '3306');
  env.DB_USER = decodeURIComponent(url.username) || (t.kind === 'postgres' ? 'postgres' : 'root');
  env.DB_PASSWORD = decodeURIComponent(url.password);
  if (t.slot) env.SLOT_NAME = t.slot;
  try {
    await run(REGISTER, [t.kind, t.db.name, t.prefix], { env, timeout: 120_000 });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`register-connector.sh failed: ${e.stderr || e.message}\n${e.stdout ?? ''}`);
  }
  return Date.now() - started;
}

async function scenario(t: Target, kafka: Kafka, admin: Admin) {
  const { knex } = t.db;
  const topic = (table: string) => `${t.prefix}.${t.schema}.${table}`;
  const topics = [topic('vgroups'), topic('services')];
  // Made up front so that the consumer is in place before the first event.
  await admin.createTopics({ topics: topics.map((name) => ({ topic: name })), waitForLeaders: true });

  const got = new Collector();
  const groupId = `${t.prefix}-smoke`;
  const consumer: Consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({ eachMessage: async (payload) => got.push(received(payload)) });
    await joined;

    const registerMs = await register(t);

    // Streaming starts shortly after the task reports RUNNING (the no_data snapshot reads the
    // schema first on MariaDB): write probe rows until the first one comes through.
    const t0 = Date.now();
    let probe = PROBE_BASE;
    const firstProbe = got.waitFor((m) => Number(m.key?.vg_id) >= PROBE_BASE, 60_000, 'probe event');
    let seen = false;
    firstProbe.then(
      () => {
        seen = true;
      },
      () => {},
    );
    while (!seen && Date.now() - t0 < 60_000) {
      await knex('vgroups').insert({ vg_id: ++probe, agrm_id: 0, login: `probe${probe}` });
      await Promise.race([firstProbe.catch(() => {}), sleep(250)]);
    }
    const probeEvent = await firstProbe;
    const firstEventMs = probeEvent.at - t0;

    // The scenario. committed[i] = when statement i was committed (autocommit).
    const committed: number[] = [];
    const exec = async (q: Promise<unknown>) => {
      await q;
      committed.push(Date.now());
    };
    await exec(
      knex('vgroups').insert({
        vg_id: 1,
        agrm_id: 10,
        login: 'alice',
        acc_ondate: new Date('2026-03-01T10:11:12Z'),
      }),
    );
    await exec(
      knex('services').insert({
        service_id: 10,
        vg_id: 1,
        tar_id: 5,
        serv_cat_idx: 2,
        mul: '12345678901234.123456',
        timefrom: new Date('2026-03-01T00:00:00Z'),
        external_data: 'smoke',
      }),
    );
    await exec(
      knex('services')
        .where({ service_id: 10 })
        .update({ state: 3, timeto: new Date('2026-04-01T00:00:00Z') }),
    );
    await exec(knex('vgroups').where({ vg_id: 1 }).update({ blocked: 3 }));
    const serviceRow = await knex('services').where({ service_id: 10 }).first();
    const vgroupRow = await knex('vgroups').where({ vg_id: 1 }).first();
    await exec(knex('services').where({ service_id: 10 }).delete());

    const isService = (op: string) => (m: Received) =>
      m.topic === topic('services') && m.key?.service_id === 10 && m.value?.op === op;
    const isVgroup = (op: string) => (m: Received) =>
      m.topic === topic('vgroups') && m.key?.vg_id === 1 && m.value?.op === op;
    const wait = 30_000;
    const vgC = await got.waitFor(isVgroup('c'), wait, 'vgroups insert');
    const svC = await got.waitFor(isService('c'), wait, 'services insert');
    const svU = await got.waitFor(isService('u'), wait, 'services update');
    const vgU = await got.waitFor(isVgroup('u'), wait, 'vgroups update');
    const svD = await got.waitFor(isService('d'), wait, 'services delete');
    const tomb = await got.waitFor(
      (m) => m.topic === topic('services') && m.key?.service_id === 10 && m.value === null,
      wait,
      'tombstone after the delete',
    );

    // --- the envelopes
    const connectorName = t.kind === 'postgres' ? 'postgresql' : 'mariadb';
    for (const m of [vgC, svC, svU, vgU, svD]) {
      expect(m.value!.source.connector).toBe(connectorName);
      expect(m.value!.source.db).toBe(t.db.name);
      expect(typeof m.value!.ts_ms).toBe('number');
    }
    expect(svC.value!.source.table).toBe('services');

    expect(vgC.value!.before).toBeNull();
    expect(vgC.value!.after).toMatchObject({ vg_id: 1, agrm_id: 10, login: 'alice', blocked: 0 });
    expect(vgC.value!.after!.acc_ondate).toBe('2026-03-01T10:11:12Z');
    expect(vgU.value!.before).toMatchObject({ vg_id: 1, blocked: 0 });
    expect(vgU.value!.after).toMatchObject({ vg_id: 1, blocked: 3 });
    // TIMESTAMP / timestamptz: a real instant, in UTC, the same as knex reads
    sameInstant(vgU.value!.after!.last_mod_date, vgroupRow.last_mod_date);
    expect(Math.abs(Date.parse(vgU.value!.after!.last_mod_date as string) - Date.now())).toBeLessThan(
      300_000,
    );
    if (t.kind === 'mariadb') {
      // MySQL's "not set" zero date of a NOT NULL DATETIME arrives as the epoch
      expect(vgC.value!.after!.block_date).toBe('1970-01-01T00:00:00Z');
    }

    expect(svC.value!.before).toBeNull();
    const after = svC.value!.after!;
    expect(after).toMatchObject({ service_id: 10, vg_id: 1, tar_id: 5, serv_cat_idx: 2, state: 1 });
    expect(after.mul).toBe('12345678901234.123456'); // decimal as a string, all digits
    expect(after.timefrom).toBe('2026-03-01T00:00:00Z');
    expect(after.timeto).toBe('9999-12-31T23:59:59Z');
    expect(Date.parse(after.timeto as string)).toBe(Date.UTC(9999, 11, 31, 23, 59, 59));
    sameInstant(after.created, serviceRow.created);

    expect(svU.value!.before).toMatchObject({ service_id: 10, state: 1, timeto: '9999-12-31T23:59:59Z' });
    expect(svU.value!.after).toMatchObject({
      service_id: 10,
      vg_id: 1,
      state: 3,
      timeto: '2026-04-01T00:00:00Z',
    });
    sameInstant(svU.value!.after!.timefrom, serviceRow.timefrom);
    sameInstant(svU.value!.after!.timeto, serviceRow.timeto);

    expect(svD.value!.after).toBeNull();
    expect(svD.value!.before).toMatchObject({
      service_id: 10,
      vg_id: 1,
      mul: '12345678901234.123456',
      state: 3,
    });
    expect(tomb.key).toEqual({ service_id: 10 });
    expect(Number(tomb.offset)).toBeGreaterThan(Number(svD.offset));

    // --- per-table order as committed
    const svOps = got.messages
      .filter((m) => m.topic === topic('services'))
      .map((m) => m.value?.op ?? 'tombstone');
    expect(svOps).toEqual(['c', 'u', 'd', 'tombstone']);

    // --- commit → consume latency of each scenario event
    const latencies = [vgC, svC, svU, vgU, svD].map((m, i) => m.at - committed[i]!);

    // --- kafkajs admin paths the service's replay uses, against this broker version
    // (the topic was made empty just before: an hour ago = its start; the future = its end)
    const fromStart = await admin.fetchTopicOffsetsByTimestamp(topic('services'), Date.now() - 3_600_000);
    expect(fromStart).toEqual([{ partition: 0, offset: '0' }]);
    const fromFuture = await admin.fetchTopicOffsetsByTimestamp(topic('services'), Date.now() + 3_600_000);
    expect(fromFuture).toEqual([{ partition: 0, offset: '4' }]);
    const replayGroup = `${groupId}-replay`;
    await admin.setOffsets({
      groupId: replayGroup,
      topic: topic('services'),
      partitions: [{ partition: 0, offset: '1' }],
    });
    const replayed = new Collector();
    const replay = kafka.consumer({ groupId: replayGroup, maxWaitTimeInMs: 500 });
    await replay.connect();
    try {
      await replay.subscribe({ topics: [topic('services')] });
      await replay.run({ eachMessage: async (payload) => replayed.push(received(payload)) });
      const first = await replayed.waitFor(() => true, 30_000, 'replayed message');
      expect(first.offset).toBe('1');
      expect(first.value?.op).toBe('u');
    } finally {
      await replay.disconnect();
    }
    await admin.deleteGroups([replayGroup]).catch(() => {});

    console.log(
      `[kafka-smoke] ${t.kind}: register→RUNNING ${registerMs} ms, RUNNING→first event ${firstEventMs} ms ` +
        `(${probe - PROBE_BASE} probe row(s)), commit→consume ${latencies.join(', ')} ms ` +
        `(max ${Math.max(...latencies)} ms)`,
    );
    console.log(`[kafka-smoke] ${t.kind} sample envelope (services update): ${JSON.stringify(svU.value)}`);
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => {});
  }
}

async function cleanup(t: Target | undefined, admin: Admin | undefined) {
  if (!t) return;
  await removeConnector(t.connector);
  if (t.slot) {
    // The slot stays active until the walsender of the deleted task goes: terminate it, then drop.
    // The slot belongs to the cluster: any connection to the same server can drop it.
    const pg = openBilling('pg', t.db.url, { min: 0, max: 1 });
    try {
      for (let i = 0; i < 40; i++) {
        const { rows } = await pg.raw('SELECT active_pid FROM pg_replication_slots WHERE slot_name = ?', [
          t.slot,
        ]);
        if (rows.length === 0) break;
        if (rows[0].active_pid) await pg.raw('SELECT pg_terminate_backend(?)', [rows[0].active_pid]);
        try {
          await pg.raw('SELECT pg_drop_replication_slot(?)', [t.slot]);
          break;
        } catch {
          await sleep(250);
        }
      }
    } finally {
      await pg.destroy();
    }
  }
  await t.db.drop();
  if (admin) {
    const mine = (await admin.listTopics()).filter(
      (name) => name.startsWith(`${t.prefix}.`) || name.endsWith(`.${t.prefix}`),
    );
    if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => {});
    // MariaDB: the schema history reader's group exists once the history was read back
    await admin.deleteGroups([`${t.prefix}-schemahistory`]).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
describe.skipIf(problem !== null)('Debezium → Kafka → kafkajs on the local stack', () => {
  const kafka = new Kafka({ clientId: 'lifestream-smoke', brokers: [BROKER], logLevel: logLevel.WARN });
  let admin: Admin;
  let release: (() => void) | undefined;

  beforeAll(async () => {
    // not while a reliability test restarts the broker or Connect (test/support/stack.ts)
    release = await useStack('kafka-smoke');
    admin = kafka.admin();
    await admin.connect();
  }, 660_000);
  afterAll(async () => {
    await admin?.disconnect();
    release?.();
  });

  it('PostgreSQL (pgoutput): c/u/d envelopes with before/after, tombstone, decimals and date-times', async () => {
    const id = randomBytes(4).toString('hex');
    let t: Target | undefined;
    try {
      const db = await createTestDatabase('pg', 'kafka');
      const { rows } = await db.knex.raw('SHOW wal_level');
      if (rows[0].wal_level !== 'logical') {
        await db.drop();
        throw new Error(`PostgreSQL has wal_level=${rows[0].wal_level}: run scripts/ci/ensure-databases.sh`);
      }
      t = {
        kind: 'postgres',
        db,
        connector: `smoke-pg-${id}`,
        prefix: `smoke_pg_${id}`,
        schema: 'public',
        slot: `lbls_smoke_${id}`,
      };
      await createTables(t);
      await scenario(t, kafka, admin);
    } finally {
      await cleanup(t, admin);
    }
  }, 240_000);

  it('MariaDB (binlog): c/u/d envelopes with before/after, tombstone, decimals and date-times', async () => {
    const id = randomBytes(4).toString('hex');
    let t: Target | undefined;
    try {
      const db = await createTestDatabase('mysql', 'kafka');
      const [rows] = await db.knex.raw(
        'SELECT @@log_bin AS log_bin, @@binlog_format AS fmt, @@binlog_row_image AS img',
      );
      const v = rows[0];
      if (Number(v.log_bin) !== 1 || v.fmt !== 'ROW' || v.img !== 'FULL') {
        await db.drop();
        throw new Error(
          `MariaDB runs with log_bin=${v.log_bin} binlog_format=${v.fmt} binlog_row_image=${v.img}: run scripts/ci/ensure-databases.sh`,
        );
      }
      t = {
        kind: 'mariadb',
        db,
        connector: `smoke-mariadb-${id}`,
        prefix: `smoke_mdb_${id}`,
        schema: db.name,
      };
      await createTables(t);
      await scenario(t, kafka, admin);
    } finally {
      await cleanup(t, admin);
    }
  }, 240_000);
});
