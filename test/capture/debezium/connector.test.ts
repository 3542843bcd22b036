// The connector `migrate` registers: templates rendered like scripts/stack/render-connector.mjs,
// values derived from the configuration, operator overrides, and a Connect that refuses with a bare
// 500 (KAFKA-20693): the operator reads the validate endpoint's errors, never the password.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../../src/capture/debezium/connect.js';
import {
  type BillingFacts,
  connectorPlan,
  scrub,
  slotName,
} from '../../../src/capture/debezium/connector.js';
import { connectorSecrets } from '../../../src/capture/debezium/doctor.js';
import { readTemplate, renderTemplate } from '../../../src/capture/debezium/template.js';
import { ConfigError, parseConfig } from '../../../src/config.js';

const PASSWORD = 's3cr"et\\pw';
const config = (extra: Record<string, unknown> = {}, client: 'pg' | 'mysql' = 'pg') =>
  parseConfig({
    billing: {
      client,
      connection: `${client === 'pg' ? 'postgres' : 'mysql'}://lifestream:${encodeURIComponent(PASSWORD)}@db.example:6543/billing`,
    },
    smotreshka: { url: 'http://platform.example' },
    capture: { mode: 'debezium', kafka: { brokers: ['k1:9092', 'k2:9092'], topicPrefix: 'lanb' }, ...extra },
  });
const PG: BillingFacts = { kind: 'postgres', database: 'billing', namespace: 'public' };
const MARIADB: BillingFacts = { kind: 'mariadb', database: 'billing', namespace: 'billing' };

describe('renderTemplate', () => {
  it('fills ${NAME} and ${NAME:-default}, JSON-escapes values, leaves Connect references alone', () => {
    const t = '{"a": "${A}", "b": "${B:-dflt}", "c": "${file:/s.properties:pw}", "d": "x${A}y"}';
    expect(renderTemplate(t, { A: 'q"\\', B: '' })).toEqual({
      a: 'q"\\',
      b: 'dflt',
      c: '${file:/s.properties:pw}',
      d: 'xq"\\y',
    });
  });

  it('names every placeholder without a value', () => {
    expect(() => renderTemplate('{"a": "${A}", "b": "${B}"}', {}, 'connectors/x.json')).toThrow(
      'connectors/x.json: no value for A, B',
    );
  });
});

describe('connectorPlan', () => {
  it("PostgreSQL: the database from billing.connection, the service's slot, publication and heartbeat table", () => {
    const plan = connectorPlan(config(), PG);
    expect(plan.name).toBe('lifestream-postgres-billing');
    expect(plan.config).toMatchObject({
      'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      'database.hostname': 'db.example',
      'database.port': '6543',
      'database.user': 'lifestream',
      // by default through Kafka Connect's FileConfigProvider, never in clear
      'database.password':
        '${file:/etc/lbcore-lifestream/connect-secrets/lifestream-postgres-billing.properties:password}',
      'database.dbname': 'billing',
      'topic.prefix': 'lanb',
      'slot.name': 'lifestream_lanb_billing',
      'publication.name': 'lifestream_pub',
      'table.include.list': expect.stringContaining('public.multitarifs,public.lifestream_heartbeat'),
      'heartbeat.action.query': expect.stringContaining('INSERT INTO public.lifestream_heartbeat'),
      'decimal.handling.mode': 'string',
      'time.precision.mode': 'isostring',
    });
    expect(plan.secrets).toEqual([PASSWORD]);
    expect(plan.secretFile).toEqual({
      path: '/etc/lbcore-lifestream/connect-secrets/lifestream-postgres-billing.properties',
      content: expect.stringContaining('\npassword=s3cr"et\\\\pw\n'),
    });
    expect(JSON.stringify(plan.config)).not.toContain(PASSWORD);
  });

  it('the password in clear only when asked for; ${env:…} when the worker has it in its environment', () => {
    expect(connectorPlan(config({ connect: { secret: 'clear' } }), PG)).toMatchObject({
      config: { 'database.password': PASSWORD },
      secretFile: null,
    });
    expect(
      connectorPlan(config({ connect: { secret: 'env', secretEnv: 'BILLING_CDC_PW' } }), PG),
    ).toMatchObject({ config: { 'database.password': '${env:BILLING_CDC_PW}' }, secretFile: null });
  });

  it('a separate replication user for the connector, next to the service', () => {
    const plan = connectorPlan(config({ connect: { user: 'cdc', password: 'cdc-pw', secret: 'clear' } }), PG);
    expect(plan.login).toEqual({ user: 'cdc', password: 'cdc-pw' });
    expect(plan.config).toMatchObject({ 'database.user': 'cdc', 'database.password': 'cdc-pw' });
    // a user other than the service's gets no password of the service's
    expect(connectorPlan(config({ connect: { user: 'cdc', secret: 'clear' } }), PG).login).toEqual({
      user: 'cdc',
      password: '',
    });
  });

  it('the slot of a registered connector is kept (a new name would leave the old slot pinning WAL)', () => {
    expect(connectorPlan(config(), PG, { slotName: 'lifestream_lanb' }).config['slot.name']).toBe(
      'lifestream_lanb',
    );
  });

  it('MariaDB: its own connector class, a server id, the brokers for the schema history', () => {
    const plan = connectorPlan(config({}, 'mysql'), MARIADB);
    expect(plan.name).toBe('lifestream-mariadb-billing');
    expect(plan.config).toMatchObject({
      'connector.class': 'io.debezium.connector.mariadb.MariaDbConnector',
      'database.include.list': 'billing',
      'schema.history.internal.kafka.bootstrap.servers': 'k1:9092,k2:9092',
      'schema.history.internal.kafka.topic': '_schema-history.lanb',
    });
    expect(Number(plan.config['database.server.id'])).toBeGreaterThanOrEqual(100_000);
    expect(connectorPlan(config({}, 'mysql'), MARIADB).config['database.server.id']).toBe(
      plan.config['database.server.id'],
    );
  });

  it('capture.connect overrides the name and any placeholder', () => {
    const plan = connectorPlan(
      config({
        connect: {
          connectorName: 'billing-cdc',
          settings: {
            DB_HOST: 'pg.internal',
            DB_PASSWORD: '${file:/secrets/db.properties:pw}',
            TOPIC_PARTITIONS: '6',
          },
        },
      }),
      PG,
    );
    expect(plan.name).toBe('billing-cdc');
    expect(plan.config).toMatchObject({
      'database.hostname': 'pg.internal',
      'database.password': '${file:/secrets/db.properties:pw}',
      'topic.creation.default.partitions': '6',
    });
  });

  it('refuses bad connector names and placeholder names in the config', () => {
    expect(() => config({ connect: { connectorName: 'a b' } })).toThrow(ConfigError);
    expect(() => config({ connect: { settings: { db_host: 'x' } } })).toThrow(
      /"capture.connect.settings.db_host": Invalid key/,
    );
  });

  it('slot names name the database and stay within what PostgreSQL allows', () => {
    expect(slotName('lifestream_', 'Billing.Prod-1', 'lb')).toBe('lifestream_billing_prod_1_lb');
    expect(slotName('lifestream_', 'lanbilling', 'billing_a')).not.toBe(
      slotName('lifestream_', 'lanbilling', 'billing_b'),
    );
    const long = (db: string) => slotName('p_', 'x'.repeat(80), db);
    expect(long('a')).toHaveLength(63);
    expect(long('a')).toMatch(/^[a-z0-9_]+$/);
    expect(long('a')).not.toBe(long('b'));
  });

  it('scrub hides the password in any text', () => {
    expect(scrub(`password ${PASSWORD} rejected, ${PASSWORD}`, [PASSWORD])).toBe(
      'password *** rejected, ***',
    );
  });

  it('every template of connectors/ renders with the derived values', () => {
    for (const kind of ['postgres', 'mysql', 'mariadb'] as const) {
      const facts = kind === 'postgres' ? PG : { ...MARIADB, kind };
      expect(
        connectorPlan(config({}, kind === 'postgres' ? 'pg' : 'mysql'), facts, {}, readTemplate(kind)).config[
          'topic.prefix'
        ],
      ).toBe('lanb');
    }
  });
});

describe('ConnectClient against a Connect that refuses', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  async function fakeConnect(
    handler: (req: IncomingMessage, body: string) => [number, unknown],
  ): Promise<string> {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const [status, answer] = handler(req, body);
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  }

  it('a bare 500 is explained by the validate endpoint; the password appears nowhere', async () => {
    const calls: string[] = [];
    const url = await fakeConnect((req, body) => {
      calls.push(`${req.method} ${req.url}`);
      if (req.url?.endsWith('/config/validate')) {
        expect(JSON.parse(body).name).toBe('lifestream-postgres-billing');
        return [
          200,
          {
            configs: [
              { value: { name: 'database.password', value: '[hidden]', errors: [] } },
              {
                value: {
                  name: 'database.hostname',
                  value: 'db.example',
                  errors: [`Unable to connect: FATAL: password authentication failed (${PASSWORD})`],
                },
              },
            ],
          },
        ];
      }
      return [
        500,
        {
          error_code: 500,
          message: 'Cannot invoke "org.apache.kafka.connect.runtime.rest.entities.ConfigValueInfo.errors()"',
        },
      ];
    });
    const err = await new ConnectClient(url).register(connectorPlan(config(), PG)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      'Kafka Connect refused connector lifestream-postgres-billing (HTTP 500)\nconfiguration errors:\n  database.hostname: Unable to connect: FATAL: password authentication failed (***)',
    );
    expect(calls).toEqual([
      'PUT /connectors/lifestream-postgres-billing/config',
      'PUT /connector-plugins/PostgresConnector/config/validate',
    ]);
  });

  it('a FAILED task ends the wait with its root cause in one line; the trace goes to debug', async () => {
    const url = await fakeConnect((req) => {
      if (req.method === 'PUT') return [201, {}];
      return [
        200,
        {
          connector: { state: 'RUNNING' },
          tasks: [
            {
              id: 0,
              state: 'FAILED',
              trace:
                'org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer.\n\tat a.b(C.java:1)\n' +
                `Caused by: org.postgresql.util.PSQLException: FATAL: must be superuser or replication role (${PASSWORD})\n\tat d.e(F.java:2)\n` +
                'Caused by: java.io.IOException: deeper\n',
            },
          ],
        },
      ];
    });
    const traces: string[] = [];
    const err = await new ConnectClient(url)
      .register(connectorPlan(config(), PG), { onTrace: (t) => traces.push(t) })
      .catch((e: Error) => e);
    expect((err as Error).message).toBe(
      'connector lifestream-postgres-billing: task 0 FAILED: org.postgresql.util.PSQLException: FATAL: must be superuser or replication role (***)',
    );
    expect(traces).toHaveLength(1);
    expect(traces[0]).toContain('at a.b(C.java:1)');
    expect(traces[0]).not.toContain(PASSWORD);
  });

  it('a task that fails during the settle period fails migrate', async () => {
    let polls = 0;
    const url = await fakeConnect((req) => {
      if (req.method === 'PUT') return [201, {}];
      polls++;
      const failed = polls > 2;
      return [
        200,
        {
          connector: { state: 'RUNNING' },
          tasks: [
            failed
              ? {
                  id: 0,
                  state: 'FAILED',
                  trace: 'X: outer\nCaused by: java.sql.SQLException: Access denied\n',
                }
              : { id: 0, state: 'RUNNING' },
          ],
        },
      ];
    });
    await expect(
      new ConnectClient(url).register(connectorPlan(config(), PG), { settleMs: 10_000 }),
    ).rejects.toThrow(
      'connector lifestream-postgres-billing: task 0 FAILED after starting: java.sql.SQLException: Access denied',
    );
  });

  it('doctor warns when Connect holds the password in clear, not when a config provider gives it', async () => {
    let password = PASSWORD;
    const url = await fakeConnect(() => [200, { 'database.user': 'cdc', 'database.password': password }]);
    const app = { config: config({ connect: { url } }) };
    const [clear] = await connectorSecrets(app, new ConnectClient(url), 'lifestream-postgres-billing');
    expect(clear).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('stored in clear in Kafka Connect'),
    });
    expect(clear!.detail).not.toContain(PASSWORD);
    password = '${file:/etc/lbcore-lifestream/connect-secrets/x.properties:password}';
    const [ref] = await connectorSecrets(app, new ConnectClient(url), 'lifestream-postgres-billing');
    expect(ref).toMatchObject({ status: 'ok' });
  });

  it('Connect not answering says where it was looked for', async () => {
    await expect(new ConnectClient('http://127.0.0.1:1', 2_000).status('x')).rejects.toThrow(
      /Kafka Connect does not answer at http:\/\/127\.0\.0\.1:1 .*capture\.connect\.url/,
    );
  });
});
