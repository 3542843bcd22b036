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

/** Replication slot names are unique per PostgreSQL server: prefix + topic prefix, as PostgreSQL allows. */
export function slotName(tablePrefix: string, topicPrefix: string): string {
  return `${tablePrefix}${topicPrefix}`
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 63);
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
  template = readTemplate(facts.kind),
): ConnectorPlan {
  const url = new URL(config.billing.connection);
  const names = debeziumNames(config.state.tablePrefix);
  const name = connectorName(config, facts);
  const derived: Record<string, string> = {
    DB_HOST: url.hostname,
    DB_PORT: url.port || (facts.kind === 'postgres' ? '5432' : '3306'),
    DB_USER: decodeURIComponent(url.username),
    DB_PASSWORD: decodeURIComponent(url.password),
    DB_NAME: facts.database,
    TOPIC_PREFIX: config.capture.kafka.topicPrefix,
    KAFKA_BOOTSTRAP_SERVERS: config.capture.kafka.brokers.join(','),
    ...(facts.kind === 'postgres'
      ? {
          DB_SCHEMA: facts.namespace,
          SLOT_NAME: slotName(config.state.tablePrefix, config.capture.kafka.topicPrefix),
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
    secrets: [values.DB_PASSWORD ?? ''].filter((s) => s.length >= 3),
  };
}

/** `text` with every secret replaced: for messages built from Connect's answers, which may echo the config. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}
