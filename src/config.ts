// The configuration file: YAML, validated once at start. Unknown keys and bad values are refused
// with the key's dotted path in the message, so an operator knows what to fix.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { normalizeZone } from './billing/clock.js';

const hostPort = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080')
  .refine((v) => {
    const port = Number(v.slice(v.lastIndexOf(':') + 1));
    return port > 0 && port < 65536;
  }, 'port must be 1..65535');

const url = z.string().url('expected a URL');

const cidr = z.string().refine(isCidrOrIp, 'expected an IP address or CIDR, e.g. 10.0.0.0/8');

function isCidrOrIp(v: string): boolean {
  // Checked precisely at use (ipaddr.js); here only the shape so that typos fail at start.
  return /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(v);
}

const billing = z
  .object({
    client: z.enum(['mysql', 'pg']),
    /** e.g. mysql://billing:billing@127.0.0.1:3306/billing or postgres://user@host/db */
    connection: z.string().min(1),
    /**
     * the zone of the billing's wall clock (its DATETIMEs): an IANA name (Europe/Moscow) or an
     * offset (+05:00); unset = the database's own zone (src/billing/clock-discovery.ts)
     */
    timeZone: z
      .string()
      .refine(
        (v) => normalizeZone(v) !== null,
        'not a time zone: use an IANA name (e.g. Asia/Yekaterinburg) or an offset (+05:00)',
      )
      .optional(),
    pool: z
      .object({ min: z.number().int().min(0).default(0), max: z.number().int().min(1).default(10) })
      .strict()
      .default({ min: 0, max: 10 }),
  })
  .strict();

const kafka = z
  .object({
    brokers: z.array(hostPort).min(1).default(['127.0.0.1:9092']),
    groupId: z.string().min(1).default('lbcore-lifestream'),
    topicPrefix: z.string().min(1).default('lanbilling'),
    clientId: z.string().min(1).default('lbcore-lifestream'),
    /**
     * a `run` that stops answering (crashed) loses its partitions to the others after this long;
     * the broker's group.min.session.timeout.ms (6 s by default) is the floor
     */
    sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(6_000),
  })
  .strict();

/**
 * capture.connect: how the Debezium connector reaches the database (its own user, least privilege,
 * and how its password gets to Kafka Connect) and how `run` and `migrate` watch it.
 */
const connectorAccess = {
  /** the database user the connector logs in as (default: the service's, from billing.connection) */
  user: z.string().min(1).optional(),
  /** that user's password (default: the service's when the user is the same) */
  password: z.string().optional(),
  /**
   * how the connector gets the password: `file` (default) = a Kafka Connect FileConfigProvider
   * reference to <secretDir>/<connector>.properties, which `migrate` writes when it can reach that
   * folder; `env` = ${env:<secretEnv>} on the worker; `clear` = the password itself in the
   * connector's config (Connect stores it in its config topic and shows it in its REST API)
   */
  secret: z.enum(['file', 'env', 'clear']).default('file'),
  /** `secret: file`: the folder, as the Connect worker sees it, holding one properties file per connector */
  secretDir: z.string().min(1).default('/etc/lbcore-lifestream/connect-secrets'),
  /** `secret: env`: the Connect worker's environment variable holding the password */
  secretEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
    .default('LIFESTREAM_CONNECTOR_PASSWORD'),
  /** `run`: how often the connector's and tasks' state is read from Kafka Connect */
  watchIntervalMs: z.number().int().min(1_000).max(300_000).default(10_000),
  /** `migrate`: how long the connector and its task must stay RUNNING before it reports success */
  settleMs: z.number().int().min(0).max(600_000).default(10_000),
  /** PostgreSQL: WAL the replication slot holds back beyond which doctor and /metrics warn (MiB) */
  retainedWalWarnMb: z.number().int().min(1).default(1024),
};

const connectDefaults = {
  url: 'http://127.0.0.1:8083',
  settings: {},
  secret: 'file' as const,
  secretDir: '/etc/lbcore-lifestream/connect-secrets',
  secretEnv: 'LIFESTREAM_CONNECTOR_PASSWORD',
  watchIntervalMs: 10_000,
  settleMs: 10_000,
  retainedWalWarnMb: 1024,
};

const capture = z
  .object({
    mode: z.enum(['triggers', 'debezium']).default('triggers'),
    /**
     * trigger mode: the longest pause between two looks at the change log, reached after a quiet
     * spell (while changes come the reader looks again 5 ms after each batch): the worst-case delay
     * of a change after silence, and the idle cost (one cheap SELECT per interval)
     */
    pollIntervalMs: z.number().int().min(10).max(60_000).default(100),
    /** trigger mode: change-log rows handled per transaction */
    batchSize: z.number().int().min(1).max(10_000).default(500),
    /** a newly queued account waits this long, so that one edit spread over a few transactions is one reconcile */
    debounceMs: z.number().int().min(0).max(5_000).default(10),
    kafka: kafka.default(kafka.parse({})),
    connect: z
      .object({
        url: url.default('http://127.0.0.1:8083'),
        /** default: lifestream-<postgres|mysql|mariadb>-<database> */
        connectorName: z
          .string()
          .regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only")
          .optional(),
        /**
         * values for the connector template's placeholders (connectors/README.md) where the derived
         * ones don't fit: DB_HOST as the Connect worker sees the database, DB_PASSWORD as a Connect
         * config-provider reference (${file:...}), TOPIC_PARTITIONS, HEARTBEAT_INTERVAL_MS...
         */
        settings: z
          .record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'placeholder names are upper case'), z.string())
          .default({}),
        ...connectorAccess,
      })
      .strict()
      .default(connectDefaults),
  })
  .strict();

const smotreshka = z
  .object({
    url: url,
    /** what `{id}` in the platform's paths is: the platform account id (default) or the username */
    accountIdMode: z.enum(['accountId', 'username']).default('accountId'),
    usernamePrefix: z
      .string()
      .regex(
        /^[a-zA-Z0-9_@.+\-/]*$/,
        'only the characters the platform allows in usernames: [a-zA-Z0-9_@.+-/]',
      )
      .default(''),
    /** used when the card has no email; placeholders {login} {vgId} {uid} {username} */
    emailTemplate: z
      .string()
      .refine((v) => v.includes('@'), 'must produce an email address (contain "@")')
      .default('{username}@example.users-mail.lfstrm.tv'),
    platformChanges: z.enum(['mirror', 'revert', 'report']).default('mirror'),
    scanIntervalSeconds: z.number().int().min(10).default(300),
    /**
     * the platform scan writes nothing when one scan would change more than this share of the
     * accounts it saw (a platform glitch looks like that): the operator decides with
     * `sync --from-platform`
     */
    scanMaxChangeShare: z.number().min(0).max(1).default(0.05),
    /** requests in flight to the platform at once */
    concurrency: z.number().int().min(1).max(512).default(16),
    /** per-request timeout */
    timeoutMs: z.number().int().min(100).max(300_000).default(20_000),
    /** retries of transient failures (network, timeouts, 5xx, 429) per call */
    retries: z.number().int().min(0).max(20).default(4),
    /** page size for `GET /v2/accounts` (-1 = all in one answer) */
    pageSize: z.number().int().min(-1).max(100_000).default(1000),
  })
  .strict();

const upsale = z
  .object({
    allow: z.array(cidr).default(['127.0.0.1/32', '::1/128']),
    /** the optional JSON context body is for logs only: larger bodies are refused with 413 */
    maxBodyBytes: z.number().int().min(1024).max(1_048_576).default(16_384),
    /** services.comment of a row written by an upsale commit */
    serviceComment: z.string().max(200).default('Smotreshka upsale'),
  })
  .strict();

const state = z
  .object({
    /** prefix of the service's own tables in the billing database */
    tablePrefix: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, 'lower-case letters, digits and _ only')
      .default('lifestream_'),
  })
  .strict();

const queue = z
  .object({
    /** accounts reconciled at once (each account's reconciles never overlap) */
    concurrency: z.number().int().min(1).max(512).default(16),
    /** an account that keeps changing is reconciled at most once per this interval */
    hotAccountIntervalMs: z.number().int().min(0).max(60_000).default(500),
    /** back-off of one account after a transient failure: cap of the exponential delay */
    retryMaxDelayMs: z.number().int().min(100).max(3_600_000).default(60_000),
    /** transient platform failures in a row that pause the whole queue (platform down) */
    circuitFailures: z.number().int().min(1).max(10_000).default(5),
    /** longest pause of the whole queue while the platform is down */
    circuitMaxPauseMs: z.number().int().min(100).max(600_000).default(30_000),
    /** on SIGTERM, how long reconciles in flight may finish; unfinished ones stay queued */
    shutdownGraceMs: z.number().int().min(0).max(300_000).default(10_000),
  })
  .strict();

const log = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    /** pretty = readable lines; json = one JSON object per line; auto = pretty on a terminal */
    format: z.enum(['auto', 'json', 'pretty']).default('auto'),
  })
  .strict();

export const configSchema = z
  .object({
    listen: hostPort.default('127.0.0.1:8080'),
    billing,
    capture: capture.default(capture.parse({})),
    smotreshka,
    upsale: upsale.default(upsale.parse({})),
    queue: queue.default(queue.parse({})),
    state: state.default(state.parse({})),
    log: log.default(log.parse({})),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Validates a parsed YAML value; throws ConfigError listing every problem with its key. */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
      return `unknown key ${keys.map((k) => `"${k}"`).join(', ')}`;
    }
    return `${path ? `"${path}"` : '(top level)'}: ${issue.message}`;
  });
  throw new ConfigError(`${source} is not valid:\n  - ${lines.join('\n  - ')}`);
}

/** Reads `--config FILE` or `LIFESTREAM_CONFIG`. */
export function loadConfig(file: string | undefined): Config {
  const path = file ?? process.env.LIFESTREAM_CONFIG;
  if (!path) throw new ConfigError('no configuration: pass --config FILE or set LIFESTREAM_CONFIG');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(raw, path);
}

/** A connection string with its password replaced, for logs and messages. */
export function redactUrl(connection: string): string {
  try {
    const u = new URL(connection);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return connection.replace(/(:\/\/[^:/@]+:)[^@]*@/, '$1***@');
  }
}
