// The Kafka side of `migrate` in debezium mode, after the database side (migrations/debezium/):
// the topics of the captured tables, made up front with the partitions the operator chose (so that
// `run` can subscribe before the first change, and Debezium doesn't pick the count), then the
// connector registered on Kafka Connect. `migrate --uninstall` removes the connector first, so that
// it can't recreate the replication slot the database side then drops.
import type { Knex } from 'knex';
import { debeziumNames } from '../../../migrations/debezium/index.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import { ConnectClient } from './connect.js';
import { billingFacts, connectorName, connectorPlan } from './connector.js';
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

export async function installConnector(
  config: Config,
  knex: Knex,
  logger: Logger,
  opts: { waitMs?: number } = {},
): Promise<string[]> {
  const facts = await billingFacts(knex, config.billing.client);
  const plan = connectorPlan(config, facts);
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
  const connect = new ConnectClient(config.capture.connect.url);
  const verb = await connect.register(plan, { waitMs: opts.waitMs, onProgress: (line) => logger.info(line) });
  done.push(`connector ${plan.name} ${verb} on ${config.capture.connect.url} and RUNNING`);
  return done;
}

/** Deletes the connector (and its source offsets) from Kafka Connect; the name when there was one. */
export async function uninstallConnector(config: Config, knex: Knex): Promise<string | null> {
  const name = connectorName(config, await billingFacts(knex, config.billing.client));
  return (await new ConnectClient(config.capture.connect.url).remove(name)) ? name : null;
}
