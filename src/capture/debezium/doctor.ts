// `doctor` in debezium mode: is the database side installed, does the connector run on Kafka
// Connect, does Kafka hold the capture topics and who consumes them, and which messages could the
// consumer not read (with their topic/partition/offset, to look them up in Kafka).
import { missingDebeziumObjects } from '../../../migrations/debezium/index.js';
import { binlogFiles } from '../../../migrations/debezium/mysql.js';
import { slotRetention } from '../../../migrations/debezium/pg.js';
import type { App } from '../../app.js';
import type { Check, CheckStatus } from '../../ops/doctor.js';
import { CaptureErrors } from '../../state/capture-errors.js';
import { purgedOffsetFile } from './cause.js';
import { ConnectClient, failureLine } from './connect.js';
import { billingFacts, connectorName, connectorPlan, scrub } from './connector.js';
import { connectorPrivileges, topicsFor } from './install.js';
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

  const facts = await billingFacts(knex, config.billing.client);
  const name = connectorName(config, facts);
  const connect = new ConnectClient(config.capture.connect.url, 10_000);
  const plan = connectorPlan(config, facts);
  try {
    const s = await connect.status(name);
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
          (failed
            ? ` — ${scrub(failureLine(failed.trace), plan.secrets)}; it is restarted by \`run\` (the leader), or by hand: POST ${config.capture.connect.url}/connectors/${name}/restart?includeTasks=true&onlyFailed=true`
            : running
              ? ''
              : ` — see the Connect worker's log; PUT ${config.capture.connect.url}/connectors/${name}/restart?includeTasks=true`),
      );
    }
  } catch (err) {
    add('Debezium connector', 'fail', (err as Error).message);
  }
  out.push(...(await connectorSecrets(app, connect, name)));
  try {
    const p = await connectorPrivileges(config, knex, facts, plan, { grantHeartbeat: false });
    add(
      "connector's database user",
      p.missing.length ? 'fail' : 'ok',
      p.missing.length
        ? `${p.user} lacks: ${p.missing.join('; ')} — have a DBA run: ${p.statements.join(' ')}`
        : `${p.user}: has what Debezium needs`,
    );
  } catch (err) {
    add("connector's database user", 'warn', `cannot check: ${(err as Error).message}`);
  }
  if (facts.kind === 'postgres') out.push(...(await slotCheck(app, connect, name)));
  else {
    const files = await binlogFiles(knex);
    if (files === null)
      add(
        'binlog position',
        'warn',
        "the service's database user may not list the binary logs (SHOW BINARY LOGS): `run` can't tell a purged connector position, " +
          "and a quiet server's silent heartbeat counts as a stall — GRANT BINLOG MONITOR (MariaDB >= 10.5) or REPLICATION CLIENT ON *.* to it",
      );
    const purged = purgedOffsetFile(await connect.sourceOffsets(name).catch(() => null), files);
    if (purged)
      add(
        'binlog position',
        'fail',
        `the connector's recorded position (${purged}) was purged from the server: changes may be lost: run \`sync --all\`, then see the README runbook "lost binlog position"`,
      );
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

/** A password stored in clear in Kafka Connect (its config topic, its REST API) is a warning. */
export async function connectorSecrets(
  app: Pick<App, 'config'>,
  connect: ConnectClient,
  name: string,
): Promise<Check[]> {
  try {
    const stored = await connect.connectorConfig(name);
    const pw = stored?.['database.password'];
    if (!stored || !pw) return [];
    if (/^\$\{[a-z]+:[^}]+\}$/i.test(pw))
      return [{ name: 'connector password', status: 'ok', detail: `from a Connect config provider (${pw})` }];
    return [
      {
        name: 'connector password',
        status: 'warn',
        detail:
          `the password of ${name} is stored in clear in Kafka Connect (its config topic; GET ${app.config.capture.connect.url}/connectors/${name}/config shows it): ` +
          'set capture.connect.secret to file (the default) or env, and run `lbcore-lifestream migrate`',
      },
    ];
  } catch {
    return []; // Connect unreachable: the connector check says so
  }
}

/** PostgreSQL: the WAL the slot holds back, against capture.connect.retainedWalWarnMb. */
async function slotCheck(app: App, connect: ConnectClient, name: string): Promise<Check[]> {
  const check = 'replication slot';
  try {
    const slot = (await connect.connectorConfig(name))?.['slot.name'];
    if (!slot) return [];
    const r = await slotRetention(app.knex, slot);
    if (!r)
      return [
        {
          name: check,
          status: 'warn',
          detail: `${slot} does not exist yet (the connector creates it when it starts)`,
        },
      ];
    const mb = r.retainedBytes === null ? null : Math.round(r.retainedBytes / 2 ** 20);
    const warnMb = app.config.capture.connect.retainedWalWarnMb;
    if (r.walStatus === 'lost')
      return [
        {
          name: check,
          status: 'fail',
          detail: `${slot} lost WAL it still needed (max_slot_wal_keep_size): changes may be lost: run \`sync --all\`, then see the README runbook`,
        },
      ];
    return [
      {
        name: check,
        status: mb !== null && mb > warnMb ? 'warn' : 'ok',
        detail:
          `${slot}: holds back ${mb ?? '?'} MiB of WAL (wal_status ${r.walStatus ?? '?'}; warning above ${warnMb} MiB)` +
          (mb !== null && mb > warnMb
            ? ' — the connector is not keeping up or not running: check it above; set max_slot_wal_keep_size so that a dead connector cannot fill the disk'
            : ''),
      },
    ];
  } catch (err) {
    return [{ name: check, status: 'warn', detail: `cannot read: ${(err as Error).message}` }];
  }
}
