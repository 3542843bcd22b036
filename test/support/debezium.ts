// The whole Debezium pipeline in-process for end-to-end tests: the trigger tests' pipeline
// (pipeline.ts: billing with the sample, simulator, migrate, sync --all, the service) in
// capture.mode debezium, plus what `migrate` does on the Kafka side (topics, connector) and a wait
// until the connector really streams. Every pipeline has its own database, connector, slot, topic
// prefix and consumer group, so files run side by side; close() removes all of it.
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { debeziumNames } from '../../migrations/debezium/index.js';
import { dropSlot, ownSlots } from '../../migrations/debezium/pg.js';
import type { Dialect } from '../../src/billing/connect.js';
import { installConnector, uninstallConnector } from '../../src/capture/debezium/install.js';
import { silentLogger } from '../../src/log.js';
import { type Pipeline, type PipelineOptions, startPipeline } from './pipeline.js';
import { BROKER, CONNECT_URL, SECRETS_DIR } from './stack.js';

export interface DebeziumPipeline {
  p: Pipeline;
  /** topic prefix, also the consumer group */
  prefix: string;
  connector: string;
  /** the middle part of the topic names */
  namespace: string;
  topic(table: string): string;
  /** every change handled: queue empty, nothing in flight */
  settled(): Promise<void>;
  /** writes to a row no account depends on until the consumer sees a record: streaming has begun */
  waitStreaming(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The part of a config that puts a pipeline on the stack under its own names. */
export function debeziumCapture(
  prefix: string,
  connector: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    mode: 'debezium',
    kafka: {
      brokers: [BROKER],
      topicPrefix: prefix,
      groupId: prefix,
      clientId: prefix,
      sessionTimeoutMs: 6_000,
    },
    connect: {
      url: CONNECT_URL,
      connectorName: connector,
      secretDir: SECRETS_DIR,
      settleMs: 2_000,
      watchIntervalMs: 2_000,
      settings: { HEARTBEAT_INTERVAL_MS: '1000' },
      ...(extra.connect as Record<string, unknown> | undefined),
    },
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'connect')),
  };
}

export function uniqueNames(label: string): { prefix: string; connector: string } {
  const id = randomBytes(3).toString('hex');
  return { prefix: `dbz_${label}_${id}`, connector: `dbz-${label}-${id}` };
}

/** Removes a pipeline's Kafka-side traces: its topics (and MySQL schema history) and groups. */
export async function dropKafkaTraces(prefix: string): Promise<void> {
  const kafka = new Kafka({
    clientId: 'lifestream-test-cleanup',
    brokers: [BROKER],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const mine = (await admin.listTopics()).filter(
      (t) => t.startsWith(`${prefix}.`) || t.endsWith(`.${prefix}`),
    );
    if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.deleteGroups([prefix, `${prefix}-schemahistory`]).catch(() => undefined);
  } catch {
    // best effort: the stack may be down (a failed restart test)
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function startDebeziumPipeline(
  dialect: Dialect,
  label: string,
  opts: PipelineOptions & {
    capture?: Record<string, unknown>;
    /** runs after `migrate`'s database side, before the connector is registered (create its user...) */
    beforeConnector?: (p: Pipeline) => Promise<void>;
  } = {},
): Promise<DebeziumPipeline> {
  const { prefix, connector } = uniqueNames(label);
  const p = await startPipeline(dialect, label, {
    ...opts,
    config: { ...opts.config, capture: debeziumCapture(prefix, connector, opts.capture) },
  });
  const namespace = dialect === 'pg' ? 'public' : p.db.name;
  const pipeline: DebeziumPipeline = {
    p,
    prefix,
    connector,
    namespace,
    topic: (table) => `${prefix}.${namespace}.${table}`,
    async settled() {
      await p.waitFor(
        'the pipeline to settle',
        async () => (await p.service.pending.count()) === 0 && p.service.queue.stats().inFlight === 0,
        30_000,
      );
    },
    async waitStreaming(timeoutMs = 90_000) {
      const end = Date.now() + timeoutMs;
      let n = 0;
      // the template vgroup: never an account, so the reconcile this queues makes no call
      while (!p.service.debezium?.stats().lastRecordAt) {
        if (Date.now() > end)
          throw new Error(`connector ${connector}: no change reached the consumer within ${timeoutMs} ms`);
        await p.db
          .knex('vgroups')
          .where({ vg_id: 1500 })
          .update({ descr: `probe ${++n}` });
        await new Promise((r) => setTimeout(r, 300));
      }
    },
    async close() {
      await p.service?.stop().catch(() => undefined);
      await uninstallConnector(p.config, p.app.knex).catch(() => undefined);
      if (dialect === 'pg') {
        for (const slot of await ownSlots(p.app.knex, debeziumNames(p.config.state.tablePrefix)).catch(
          () => [],
        )) {
          await dropSlot(p.app.knex, slot.name).catch(() => undefined);
        }
      }
      await p.stop();
      await dropKafkaTraces(prefix);
    },
  };
  try {
    await opts.beforeConnector?.(p);
    await installConnector(p.config, p.app.knex, silentLogger, { waitMs: 120_000 });
    await pipeline.waitStreaming();
  } catch (err) {
    await pipeline.close();
    throw err;
  }
  return pipeline;
}
