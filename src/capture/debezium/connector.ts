// The Debezium connector for the configured billing database: which template, which name, which
// values. Everything is derived from the configuration and the database itself, so that `migrate`
// needs no other input; `capture.connect.settings` overrides any placeholder (the database as the
// Connect worker sees it, a password as a Connect config-provider reference, partition count...).
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { parseMysqlVersion } from '../../../migrations/capture/version.js';
import { debeziumNames } from '../../../migrations/debezium/index.js';
import type { Config } from '../../config.js';
import { type ConnectorConfig, type ConnectorKind, readTemplate, renderTemplate } from './template.js';

/** What about the billing database decides the connector and its topics. */
export interface BillingFacts {
  kind: ConnectorKind;
  /** the database (catalog) name */
  database: string;
  /** the middle part of the topic names: the PostgreSQL schema, or the MySQL/MariaDB database */
  namespace: string;
}

export interface ConnectorPlan {
  name: string;
  kind: ConnectorKind;
  config: ConnectorConfig;
  /** values that must never reach a log or a message (the database password) */
  secrets: string[];
  /** the database login the connector uses (what `migrate` preflights) */
  login: { user: string; password: string };
  /** `capture.connect.secret: file`: the properties file the worker reads the password from */
  secretFile: { path: string; content: string } | null;
}

/** What the connector registered on Kafka Connect already has that a new config must keep. */
export interface ExistingConnector {
  /** PostgreSQL: its replication slot (a new name would leave the old slot pinning WAL) */
  slotName?: string;
}

export async function billingFacts(knex: Knex, dialect: 'pg' | 'mysql'): Promise<BillingFacts> {
  if (dialect === 'pg') {
    const r = await knex.raw('SELECT current_database() AS db, current_schema() AS schema');
    return { kind: 'postgres', database: String(r.rows[0].db), namespace: String(r.rows[0].schema) };
  }
  const [rows] = await knex.raw('SELECT DATABASE() AS db, VERSION() AS v');
  const row = (rows as { db: string; v: string }[])[0]!;
  const kind = parseMysqlVersion(String(row.v)).flavour === 'mariadb' ? 'mariadb' : 'mysql';
  return { kind, database: String(row.db), namespace: String(row.db) };
}

/**
 * Replication slot names are unique per PostgreSQL server, which may hold several billing
 * databases: prefix + topic prefix + database, as PostgreSQL allows (lower case, [a-z0-9_], at most
 * 63 characters; a longer name keeps its start and ends in a hash of the whole, so it stays unique).
 */
export function slotName(tablePrefix: string, topicPrefix: string, database: string): string {
  const full = `${tablePrefix}${topicPrefix}_${database}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, 54)}_${hash}`;
}

/** The connector's database login: capture.connect.user/password, else the service's own. */
export function connectorLogin(config: Config): { user: string; password: string } {
  const url = new URL(config.billing.connection);
  const own = { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  const { user, password } = config.capture.connect;
  if (user === undefined || user === own.user) return { user: own.user, password: password ?? own.password };
  return { user, password: password ?? '' };
}

/** DB_PASSWORD as the connector's config carries it: a Connect config-provider reference unless `clear`. */
function passwordValue(
  config: Config,
  name: string,
  password: string,
): { value: string; file: ConnectorPlan['secretFile'] } {
  const { secret, secretDir, secretEnv } = config.capture.connect;
  // nothing to hide: no file to keep in step with it
  if (password === '' || secret === 'clear') return { value: password, file: null };
  if (secret === 'env') return { value: `\${env:${secretEnv}}`, file: null };
  const path = `${secretDir.replace(/\/+$/, '')}/${name}.properties`;
  // java.util.Properties: backslashes escape, so they are doubled; a line break ends the value
  const escaped = password.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return {
    value: `\${file:${path}:password}`,
    file: {
      path,
      content: `# lbcore-lifestream: password of connector ${name} (written by migrate)\npassword=${escaped}\n`,
    },
  };
}

/** A replication client id for MySQL/MariaDB, stable per connector name and clear of small server ids. */
export function serverIdOf(connectorName: string): string {
  return String(
    100_000 + (createHash('sha256').update(connectorName).digest().readUInt32BE(0) % 1_073_741_824),
  );
}

export function connectorName(config: Config, facts: BillingFacts): string {
  return (
    config.capture.connect.connectorName ??
    `lifestream-${facts.kind}-${facts.database}`.replace(/[^A-Za-z0-9._-]/g, '_')
  );
}

export function connectorPlan(
  config: Config,
  facts: BillingFacts,
  existing: ExistingConnector = {},
  template = readTemplate(facts.kind),
): ConnectorPlan {
  const url = new URL(config.billing.connection);
  const names = debeziumNames(config.state.tablePrefix);
  const name = connectorName(config, facts);
  const login = connectorLogin(config);
  const password = passwordValue(config, name, login.password);
  const explicitPassword = config.capture.connect.settings.DB_PASSWORD;
  const derived: Record<string, string> = {
    DB_HOST: url.hostname,
    DB_PORT: url.port || (facts.kind === 'postgres' ? '5432' : '3306'),
    DB_USER: login.user,
    DB_PASSWORD: password.value,
    DB_NAME: facts.database,
    TOPIC_PREFIX: config.capture.kafka.topicPrefix,
    KAFKA_BOOTSTRAP_SERVERS: config.capture.kafka.brokers.join(','),
    ...(facts.kind === 'postgres'
      ? {
          DB_SCHEMA: facts.namespace,
          SLOT_NAME:
            existing.slotName ??
            slotName(config.state.tablePrefix, config.capture.kafka.topicPrefix, facts.database),
          PUBLICATION_NAME: names.publication,
          HEARTBEAT_TABLE: names.heartbeat,
        }
      : { DB_SERVER_ID: serverIdOf(name) }),
  };
  const values = { ...derived, ...config.capture.connect.settings };
  return {
    name,
    kind: facts.kind,
    config: renderTemplate(template, values, `connectors/${facts.kind}.json`),
    secrets: [login.password, explicitPassword ?? ''].filter((s) => s.length >= 3),
    login,
    // a DB_PASSWORD of capture.connect.settings is the operator's own choice: no file of ours then
    secretFile: explicitPassword === undefined ? password.file : null,
  };
}

/** `text` with every secret replaced: for messages built from Connect's answers, which may echo the config. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}
