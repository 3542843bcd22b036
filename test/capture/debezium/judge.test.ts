// The connector watch's rules (judge.ts, cause.ts) and the privilege preflight's pure parts:
// what /health says about a connector, when failed tasks are restarted, what a trace means.
import { describe, expect, it } from 'vitest';
import {
  grantee,
  mysqlGrantStatements,
  mysqlMissingPrivileges,
  type PgRoleFacts,
  pgPrivilegeReport,
} from '../../../migrations/debezium/privileges.js';
import { binlogPositionLost, rootCause } from '../../../src/capture/debezium/cause.js';
import type { ConnectorState } from '../../../src/capture/debezium/connect.js';
import {
  freshEpisode,
  judge,
  type Observation,
  REPEATED,
  restartDelayMs,
  STABLE_MS,
} from '../../../src/capture/debezium/judge.js';

const TRACE =
  'org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer. This connector will be stopped.\n' +
  '\tat io.debezium.pipeline.ErrorHandler.setProducerThrowable(ErrorHandler.java:67)\n' +
  'Caused by: java.sql.SQLException: Access denied; you need (at least one of) the REPLICATION SLAVE privilege(s) for this operation\n' +
  '\tat org.mariadb.jdbc.x(X.java:1)\n' +
  'Caused by: java.io.IOException: deeper\n';

const running: ConnectorState = { connector: 'RUNNING', tasks: [{ id: 0, state: 'RUNNING' }] };
const failed: ConnectorState = { connector: 'RUNNING', tasks: [{ id: 0, state: 'FAILED', trace: TRACE }] };
const obs = (status: Observation['status'], extra: Partial<Observation> = {}): Observation => ({
  name: 'lifestream-mariadb-billing',
  connectUrl: 'http://connect:8083',
  status,
  heartbeatAgeMs: 1_000,
  heartbeatTopic: '__debezium-heartbeat.lanbilling',
  staleMs: 30_000,
  mayRestart: true,
  ...extra,
});

describe('rootCause', () => {
  it('is the first Caused by of a Java trace, else its first line', () => {
    expect(rootCause(TRACE)).toBe(
      'java.sql.SQLException: Access denied; you need (at least one of) the REPLICATION SLAVE privilege(s) for this operation',
    );
    expect(rootCause('io.debezium.DebeziumException: boom\n\tat x')).toBe(
      'io.debezium.DebeziumException: boom',
    );
    expect(rootCause(undefined)).toBeNull();
  });

  it('recognises a purged binlog position', () => {
    expect(
      binlogPositionLost(
        'Caused by: io.debezium.DebeziumException: The connector is trying to read binlog starting at Struct{...}, but this is no longer available on the server. Reconfigure the connector to use a snapshot mode when needed.',
      ),
    ).toBe(true);
    expect(binlogPositionLost(TRACE)).toBe(false);
  });
});

describe('judge', () => {
  it('a running connector with a fresh heartbeat has no problem', () => {
    expect(judge(obs(running), freshEpisode(), 0)).toMatchObject({ problems: [], restart: false });
  });

  it('missing, unreachable, paused: each a problem naming it', () => {
    expect(judge(obs(null), freshEpisode(), 0).problems[0]).toMatch(
      /not registered on http:\/\/connect:8083: run `lbcore-lifestream migrate`/,
    );
    expect(judge(obs('Kafka Connect does not answer'), freshEpisode(), 0).problems[0]).toMatch(
      /does not answer/,
    );
    const paused = { connector: 'PAUSED', tasks: [{ id: 0, state: 'PAUSED' }] };
    expect(judge(obs(paused), freshEpisode(), 0).problems[0]).toMatch(
      /not running \(PAUSED, tasks 0:PAUSED\): resume it/,
    );
    expect(judge(obs({ connector: 'RUNNING', tasks: [] }), freshEpisode(), 0).problems[0]).toMatch(
      /tasks none/,
    );
  });

  it('RUNNING with a stale heartbeat is broken', () => {
    const v = judge(obs(running, { heartbeatAgeMs: 45_000 }), freshEpisode(), 0);
    expect(v.problems[0]).toMatch(
      /RUNNING but no heartbeat reached __debezium-heartbeat.lanbilling for 45 s/,
    );
    expect(v.restart).toBe(false);
  });

  it('a FAILED task: the root cause once, restarts with back-off, then what to do', () => {
    let e = freshEpisode();
    const restarts: number[] = [];
    const causes: string[] = [];
    let problem = '';
    for (let t = 0; t <= 300_000; t += 5_000) {
      const v = judge(obs(failed), e, t);
      e = v.episode;
      if (v.restart) restarts.push(t);
      if (v.newCause) causes.push(v.newCause);
      problem = v.problems[0]!;
    }
    expect(causes).toHaveLength(1);
    expect(restarts.slice(0, 5)).toEqual([0, 10_000, 30_000, 70_000, 130_000]);
    expect(restarts[5]! - restarts[4]!).toBe(60_000);
    expect(problem).toMatch(/task 0 FAILED: java.sql.SQLException: Access denied/);
    expect(problem).toMatch(new RegExp(`Restarted ${restarts.length} times .* still failing: fix the cause`));
    expect(problem).toContain(
      'POST http://connect:8083/connectors/lifestream-mariadb-billing/restart?includeTasks=true&onlyFailed=true',
    );
    expect(restarts.length).toBeGreaterThan(REPEATED);
  });

  it('a standby reports but never restarts', () => {
    const v = judge(obs(failed, { mayRestart: false }), freshEpisode(), 0);
    expect(v.restart).toBe(false);
    expect(v.problems[0]).toMatch(/the leading instance restarts it/);
  });

  it('a task that fails again right after each restart stays one episode; a stable run ends it', () => {
    let e = judge(obs(failed), freshEpisode(), 0).episode;
    e = judge(obs(running), e, 5_000).episode; // restarted, RUNNING for a moment
    const again = judge(obs(failed), e, 8_000);
    expect(again.newCause).toBeNull();
    expect(again.restart).toBe(false); // 10 s after the first restart, not before
    e = judge(obs(running), again.episode, 20_000).episode;
    e = judge(obs(running), e, 20_000 + STABLE_MS).episode;
    expect(e).toMatchObject({ failingSince: null, restarts: 0 });
    expect(e.lastFailureAt).toBe(8_000);
  });

  it('a lost binlog position says that changes may be lost', () => {
    const lost: ConnectorState = {
      connector: 'RUNNING',
      tasks: [
        {
          id: 0,
          state: 'FAILED',
          trace:
            'X\nCaused by: io.debezium.DebeziumException: ... but this is no longer available on the server.',
        },
      ],
    };
    expect(judge(obs(lost), freshEpisode(), 0).problems[0]).toMatch(/changes may be lost: run `sync --all`/);
  });

  it('back-off delays', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map(restartDelayMs)).toEqual([
      0, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000,
    ]);
  });
});

describe('privilege preflight', () => {
  it('MariaDB >= 10.5: BINLOG MONITOR, and the exact GRANT for the account SHOW GRANTS names', () => {
    const grants = ["GRANT SELECT, RELOAD ON *.* TO `cdc`@`%` IDENTIFIED BY PASSWORD '*AB'"];
    const missing = mysqlMissingPrivileges(grants, 'billing', true);
    expect(missing).toEqual(['SHOW DATABASES', 'REPLICATION SLAVE', 'BINLOG MONITOR']);
    expect(mysqlGrantStatements(grantee(grants, 'cdc'), missing)).toEqual([
      'GRANT SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cdc`@`%`;',
    ]);
  });

  it('MySQL: REPLICATION CLIENT; SELECT on the billing database is enough; ALL PRIVILEGES is everything', () => {
    expect(
      mysqlMissingPrivileges(
        [
          "GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cdc'@'10.%'",
          "GRANT SELECT ON `billing`.* TO 'cdc'@'10.%'",
        ],
        'billing',
        false,
      ),
    ).toEqual([]);
    expect(mysqlMissingPrivileges(["GRANT USAGE ON *.* TO 'cdc'@'%'"], 'billing', false)).toEqual([
      'SELECT',
      'RELOAD',
      'SHOW DATABASES',
      'REPLICATION SLAVE',
      'REPLICATION CLIENT',
    ]);
    expect(
      mysqlMissingPrivileges(
        ["GRANT ALL PRIVILEGES ON *.* TO 'root'@'localhost' WITH GRANT OPTION"],
        'billing',
        true,
      ),
    ).toEqual([]);
  });

  it('PostgreSQL: ALTER ROLE and GRANT lines for what the role lacks', () => {
    const f: PgRoleFacts = {
      exists: true,
      login: true,
      replication: false,
      superuser: false,
      schemaUsage: true,
      noSelect: ['services'],
      heartbeatMissing: [],
      serviceMayCreate: true,
      serviceUser: 'lifestream',
      database: 'billing',
    };
    expect(pgPrivilegeReport('cdc', 'public', 'lifestream_heartbeat', f)).toEqual({
      user: 'cdc',
      missing: ['REPLICATION', 'SELECT on services'],
      statements: ['ALTER ROLE "cdc" REPLICATION;', 'GRANT SELECT ON "public"."services" TO "cdc";'],
    });
    expect(
      pgPrivilegeReport('cdc', 'public', 'hb', { ...f, superuser: true, replication: false, noSelect: ['x'] })
        .missing,
    ).toEqual([]);
  });
});
