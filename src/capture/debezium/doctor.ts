// `doctor` in debezium mode: is the database side installed, does the connector run on Kafka
// Connect, does Kafka hold the capture topics and who consumes them, and which messages could the
// consumer not read (with their topic/partition/offset, to look them up in Kafka).
import { missingDebeziumObjects } from '../../../migrations/debezium/index.js';
import type { App } from '../../app.js';
import type { Check, CheckStatus } from '../../ops/doctor.js';
import { CaptureErrors } from '../../state/capture-errors.js';
import { ConnectClient } from './connect.js';
import { billingFacts, connectorName } from './connector.js';
import { topicsFor } from './install.js';
import { createStreamAdmin } from './kafka.js';

export async function debeziumChecks(app: App): Promise<Check[]> {
  const { config, knex, logger } = app;
  const out: Check[] = [];
  const add = (name: string, status: CheckStatus, detail: string) => out.push({ name, status, detail });

  const missing = await missingDebeziumObjects(knex, app.migration).catch((err: Error) => [
    `(cannot check: ${err.message})`,
  ]);
  add(
    'debezium objects (migrate)',
    missing.length ? 'fail' : 'ok',
    missing.length ? `missing: ${missing.join(', ')} — run \`lbcore-lifestream migrate\`` : 'in place',
  );

  const name = connectorName(config, await billingFacts(knex, config.billing.client));
  try {
    const s = await new ConnectClient(config.capture.connect.url, 10_000).status(name);
    if (!s)
      add(
        'Debezium connector',
        'fail',
        `${name} is not registered on ${config.capture.connect.url} — run \`lbcore-lifestream migrate\``,
      );
    else {
      const failed = s.tasks.find((t) => t.state === 'FAILED');
      const running =
        s.connector === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING');
      add(
        'Debezium connector',
        running ? 'ok' : 'fail',
        `${name}: ${s.connector}, tasks ${s.tasks.map((t) => t.state).join(',') || 'none'}` +
          (failed?.trace
            ? ` — ${failed.trace.split('\n')[0]}`
            : running
              ? ''
              : ` — see the Connect worker's log; PUT ${config.capture.connect.url}/connectors/${name}/restart?includeTasks=true`),
      );
    }
  } catch (err) {
    add('Debezium connector', 'fail', (err as Error).message);
  }

  const admin = createStreamAdmin(config.capture.kafka, logger);
  try {
    const topics = await topicsFor(config, knex);
    const existing = await admin.existingTopics();
    const absent = topics.all.filter((t) => !existing.has(t));
    const group = await admin.group(config.capture.kafka.groupId);
    add(
      'Kafka',
      absent.length ? 'fail' : 'ok',
      absent.length
        ? `topics missing: ${absent.join(', ')} — run \`lbcore-lifestream migrate\``
        : `${topics.all.length} capture topics; group "${config.capture.kafka.groupId}" ${group.state}, ${group.members.length} member(s) (running \`run\` instances)`,
    );
  } catch (err) {
    add('Kafka', 'fail', `${config.capture.kafka.brokers.join(',')}: ${(err as Error).message}`);
  } finally {
    await admin.close();
  }

  try {
    const errors = new CaptureErrors(knex, app.migration.prefix);
    const n = await errors.count();
    const latest = await errors.latest(3);
    add(
      'unreadable change messages',
      n ? 'warn' : 'ok',
      n
        ? `${n} skipped, e.g. ${latest.map((e) => `${e.position}${e.vgId ? ` (vg ${e.vgId}, parked)` : ''}: ${e.error.slice(0, 100)}`).join('; ')} — ` +
            `the messages stay in Kafka at those offsets; after fixing the cause, \`sync\` the accounts and delete the rows from ${errors.table}`
        : 'none',
    );
  } catch {
    // the table is missing: reported by the objects check above
  }
  return out;
}
