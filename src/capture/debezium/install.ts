// The Kafka side of `migrate` in debezium mode, after the database side (migrations/debezium/):
// the topics of the captured tables, made up front with the partitions the operator chose (so that
// `run` can subscribe before the first change, and Debezium doesn't pick the count), then the
// connector registered on Kafka Connect. `migrate --uninstall` removes the connector first, so that
// it can't recreate the replication slot the database side then drops.
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Knex } from 'knex';
import { debeziumNames } from '../../../migrations/debezium/index.js';
import {
  mysqlPrivilegeReport,
  type PrivilegeReport,
  pgPrivilegeReport,
  pgRoleFacts,
} from '../../../migrations/debezium/privileges.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import { ConnectClient } from './connect.js';
import {
  type BillingFacts,
  billingFacts,
  type ConnectorPlan,
  connectorName,
  connectorPlan,
} from './connector.js';
import { createStreamAdmin } from './kafka.js';
import { type CaptureTopics, captureTopics } from './topics.js';

/** The topics `run` consumes, for this configuration and billing database. */
export async function topicsFor(config: Config, knex: Knex): Promise<CaptureTopics> {
  const facts = await billingFacts(knex, config.billing.client);
  const heartbeat = facts.kind === 'postgres' ? debeziumNames(config.state.tablePrefix).heartbeat : null;
  return captureTopics(config.capture.kafka.topicPrefix, facts.namespace, heartbeat);
}

/** Partitions of the topics made for the captured tables: TOPIC_PARTITIONS of capture.connect.settings, else 1. */
export function topicPartitions(config: Config): number {
  const n = Number(config.capture.connect.settings.TOPIC_PARTITIONS ?? 1);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

/** `migrate` stops before registering: the connector's user lacks privileges. */
export class PrivilegeError extends Error {
  override name = 'PrivilegeError';
}

/** What the connector's database user lacks; an empty `missing` when it may do all Debezium does. */
export async function connectorPrivileges(
  config: Config,
  knex: Knex,
  facts: BillingFacts,
  plan: ConnectorPlan,
  opts: { grantHeartbeat: boolean } = { grantHeartbeat: true },
): Promise<PrivilegeReport> {
  if (facts.kind !== 'postgres')
    return mysqlPrivilegeReport(config.billing.connection, plan.login, facts.database);
  const heartbeat = debeziumNames(config.state.tablePrefix).heartbeat;
  const f = await pgRoleFacts(knex, plan.login.user, heartbeat);
  if (opts.grantHeartbeat && f.exists && f.heartbeatMissing.length && f.serviceUser !== plan.login.user) {
    // the service made the heartbeat table and owns it: the grant is ours to give
    await knex
      .raw(`GRANT INSERT, UPDATE ON "${f.schema}"."${heartbeat}" TO "${plan.login.user.replace(/"/g, '""')}"`)
      .then(() => (f.heartbeatMissing = []))
      .catch(() => undefined);
  }
  return pgPrivilegeReport(plan.login.user, f.schema, heartbeat, f);
}

/** `secret: file`: the password file beside the Connect worker, written when its folder is here. */
function writeSecretFile(plan: ConnectorPlan): string {
  const file = plan.secretFile!;
  if (!existsSync(dirname(file.path)))
    return `make sure the Connect worker has ${file.path} (mode 600) with the line password=<the connector user's password>; its folder is not on this machine`;
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.content, { mode: 0o600 });
  renameSync(tmp, file.path);
  return `connector password written to ${file.path} (Kafka Connect reads it through its FileConfigProvider)`;
}

export async function installConnector(
  config: Config,
  knex: Knex,
  logger: Logger,
  opts: { waitMs?: number; settleMs?: number } = {},
): Promise<string[]> {
  const facts = await billingFacts(knex, config.billing.client);
  const connect = new ConnectClient(config.capture.connect.url);
  const name = connectorName(config, facts);
  // a registered connector keeps its replication slot: a new name would leave the old one pinning WAL
  const registered = await connect.connectorConfig(name);
  const plan = connectorPlan(config, facts, { slotName: registered?.['slot.name'] });
  const privileges = await connectorPrivileges(config, knex, facts, plan);
  if (privileges.missing.length)
    throw new PrivilegeError(
      `the connector's database user ${privileges.user} lacks: ${privileges.missing.join('; ')}. ` +
        `Have a DBA run, then run migrate again:\n  ${privileges.statements.join('\n  ')}`,
    );
  const topics = await topicsFor(config, knex);
  const admin = createStreamAdmin(config.capture.kafka, logger);
  const done: string[] = [];
  try {
    const made = await admin.ensureTopics(topics.all, topicPartitions(config));
    if (made.length) done.push(`topics created: ${made.join(', ')}`);
  } catch (err) {
    throw new Error(
      `Kafka at ${config.capture.kafka.brokers.join(',')}: cannot create the topics (${(err as Error).message})`,
    );
  } finally {
    await admin.close();
  }
  if (plan.secretFile) done.push(writeSecretFile(plan));
  const settleMs = opts.settleMs ?? config.capture.connect.settleMs;
  const verb = await connect.register(plan, {
    waitMs: opts.waitMs,
    settleMs,
    onProgress: (line) => logger.info(line),
    onTrace: (trace) => logger.debug({ trace }, 'the connector task failed'),
  });
  done.push(
    `connector ${plan.name} ${verb} on ${config.capture.connect.url} and RUNNING${settleMs ? ` for ${Math.round(settleMs / 1000)} s` : ''}`,
  );
  return done;
}

/** Deletes the connector (and its source offsets) from Kafka Connect, and its password file; the name when there was one. */
export async function uninstallConnector(config: Config, knex: Knex): Promise<string | null> {
  const facts = await billingFacts(knex, config.billing.client);
  const name = connectorName(config, facts);
  const removed = await new ConnectClient(config.capture.connect.url).remove(name);
  const file = connectorPlan(config, facts).secretFile;
  if (file && existsSync(file.path)) rmSync(file.path);
  return removed ? name : null;
}
