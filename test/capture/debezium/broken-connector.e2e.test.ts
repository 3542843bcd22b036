// A connector broken on purpose, on the real stack and both databases: the connector's own
// replication user loses its replication privilege and the task is restarted. On MariaDB the task
// then FAILS; on PostgreSQL it stays RUNNING and Debezium retries inside it, so only the heartbeat
// tells. Either way /health turns 503 naming the connector within a minute and /metrics says so;
// a billing change made meanwhile is not lost: once the privilege is back the service restarts the
// task itself (MariaDB) or Debezium's retry gets through (PostgreSQL), and the change reaches the
// platform. The connector's password reaches Connect through its FileConfigProvider, never in
// clear. And `migrate` for a connector user without the privileges stops with the GRANT lines.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBilling } from '../../../src/billing/connect.js';
import { BlockCode } from '../../../src/billing/types.js';
import { CAPTURED_TABLES } from '../../../src/capture/types.js';
import { runDoctor } from '../../../src/ops/doctor.js';
import { SAMPLE } from '../../fixture/sample.js';
import { MYSQL_ADMIN, PG_ADMIN } from '../../support/db.js';
import { type DebeziumPipeline, startDebeziumPipeline } from '../../support/debezium.js';
import { USERNAME_PREFIX } from '../../support/pipeline.js';
import { cli, writeConfig } from '../../support/run-child.js';
import {
  announceSkip,
  CONNECT_URL,
  ensureConfigProviders,
  stackProblem,
  useStack,
} from '../../support/stack.js';

const problem = await stackProblem();
announceSkip('broken connector', problem);

const A = SAMPLE.accounts;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface ReplicationUser {
  user: string;
  password: string;
  create(dbKnex: Knex): Promise<void>;
  revoke(): Promise<void>;
  grant(): Promise<void>;
  drop(): Promise<void>;
}

function replicationUser(dialect: 'pg' | 'mysql'): ReplicationUser {
  const user = `cdc_${randomBytes(3).toString('hex')}`;
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const admin = () => openBilling(dialect, dialect === 'pg' ? PG_ADMIN : MYSQL_ADMIN, { min: 0, max: 1 });
  const run = async (sql: string) => {
    const k = admin();
    try {
      await k.raw(sql);
    } finally {
      await k.destroy();
    }
  };
  const mysqlRights = 'SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT';
  return {
    user,
    password,
    async create(dbKnex) {
      if (dialect === 'pg') {
        await run(`CREATE ROLE "${user}" LOGIN REPLICATION PASSWORD '${password}'`);
        await dbKnex.raw(`GRANT SELECT ON ${CAPTURED_TABLES.join(', ')} TO "${user}"`);
      } else {
        await run(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
        await run(`GRANT ${mysqlRights} ON *.* TO '${user}'@'%'`);
      }
    },
    revoke: () =>
      dialect === 'pg'
        ? run(`ALTER ROLE "${user}" NOREPLICATION`)
        : run(`REVOKE REPLICATION SLAVE ON *.* FROM '${user}'@'%'`),
    grant: () =>
      dialect === 'pg'
        ? run(`ALTER ROLE "${user}" REPLICATION`)
        : run(`GRANT REPLICATION SLAVE ON *.* TO '${user}'@'%'`),
    drop: () =>
      dialect === 'pg' ? run(`DROP ROLE IF EXISTS "${user}"`) : run(`DROP USER IF EXISTS '${user}'@'%'`),
  };
}

async function health(d: DebeziumPipeline): Promise<{ status: number; body: { problems: string[] } }> {
  const res = await fetch(`${d.p.service.url}/health`);
  return { status: res.status, body: (await res.json()) as { problems: string[] } };
}
async function metrics(d: DebeziumPipeline): Promise<string> {
  return (await fetch(`${d.p.service.url}/metrics`)).text();
}

for (const dialect of ['mysql', 'pg'] as const) {
  describe.skipIf(problem !== null)(`a broken connector is seen and heals (${dialect})`, () => {
    let d: DebeziumPipeline;
    let release: () => void;
    const cdc = replicationUser(dialect);

    beforeAll(async () => {
      await ensureConfigProviders(`broken-${dialect}`);
      release = await useStack(`broken-${dialect}`);
      d = await startDebeziumPipeline(dialect, dialect === 'pg' ? 'bpg' : 'bmdb', {
        listen: '127.0.0.1:0',
        capture: { connect: { user: cdc.user, password: cdc.password } },
        beforeConnector: (p) => cdc.create(p.db.knex),
      });
    }, 660_000);
    afterAll(async () => {
      await d?.close();
      await cdc.drop().catch(() => undefined);
      release?.();
    }, 120_000);

    it('the password reaches Connect through the file provider, never in clear', async () => {
      const stored = (await (
        await fetch(`${CONNECT_URL}/connectors/${d.connector}/config`)
      ).json()) as Record<string, string>;
      expect(stored['database.user']).toBe(cdc.user);
      expect(stored['database.password']).toMatch(/^\$\{file:.*\/secrets\/.*\.properties:password\}$/);
      expect(JSON.stringify(stored)).not.toContain(cdc.password);
      const file = stored['database.password']!.slice('${file:'.length, -':password}'.length);
      expect(readFileSync(file, 'utf8')).toContain(`password=${cdc.password}`);
    });

    it("doctor: the password from a provider, the connector user's grants, the slot's retained WAL", async () => {
      const checks = await runDoctor(d.p.app);
      const by = (name: string) => checks.find((c) => c.name === name);
      expect(by('connector password')).toMatchObject({ status: 'ok' });
      expect(by("connector's database user")).toMatchObject({
        status: 'ok',
        detail: expect.stringContaining(cdc.user),
      });
      if (dialect === 'pg')
        expect(by('replication slot')).toMatchObject({
          status: 'ok',
          detail: expect.stringMatching(/holds back \d+ MiB of WAL/),
        });
    });

    it('healthy while streaming', async () => {
      await d.p.waitFor('healthy', async () => (await health(d)).status === 200, 60_000);
    });

    /** polls /health until `ok`; a timeout says what /health said last */
    async function until(what: string, ms: number, ok: (h: Awaited<ReturnType<typeof health>>) => boolean) {
      let last: unknown = null;
      return d.p
        .waitFor(
          what,
          async () => {
            const h = await health(d);
            last = h.body;
            return ok(h) ? h : null;
          },
          ms,
        )
        .catch((err: Error) => {
          throw new Error(`${err.message}; last /health: ${JSON.stringify(last)}`);
        });
    }

    it('privilege revoked and the task restarted: 503 naming the connector within a minute; back: the change made meanwhile reaches the platform', async () => {
      const login = A.svcBasic.login;
      await cdc.revoke();
      const t0 = Date.now();
      const restart = await fetch(`${CONNECT_URL}/connectors/${d.connector}/tasks/0/restart`, {
        method: 'POST',
      });
      expect(restart.status).toBeLessThan(300);
      // MariaDB: the task FAILS; PostgreSQL: it stays RUNNING and retries, only the heartbeat tells
      const expected =
        dialect === 'mysql' ? /task 0 FAILED: .*REPLICATION SLAVE/i : /RUNNING but no heartbeat reached/;
      const sick = await until(
        `/health 503 naming the connector: ${expected}`,
        60_000,
        (h) => h.status === 503 && h.body.problems.some((p) => p.includes(d.connector) && expected.test(p)),
      );
      const detectedMs = Date.now() - t0;
      const m = await metrics(d);
      if (dialect === 'mysql') {
        expect(m).toMatch(
          new RegExp(
            `lifestream_debezium_task_state\\{connector="${d.connector}",task="0",state="FAILED"\\} 1`,
          ),
        );
        expect(m).toMatch(/lifestream_debezium_last_failure_timestamp_seconds\{[^}]*\} [1-9]/);
      } else {
        expect(m).toMatch(
          /lifestream_debezium_heartbeat_age_seconds\{topic="[^"]+"\} (1[5-9]|[2-9]\d|\d{3})/,
        );
      }
      console.info(
        `[broken connector ${dialect}] unhealthy ${detectedMs} ms after the task restart: ${sick.body.problems.join(' | ')}`,
      );

      // a change while the connector can't stream
      await d.p.db
        .knex('vgroups')
        .where({ vg_id: A.svcBasic.vgId })
        .update({ blocked: BlockCode.admin, blk_req: BlockCode.admin });
      await sleep(3_000);
      expect(d.p.sim.store.byName(`${USERNAME_PREFIX}${login}`)?.state?.status).not.toBe(
        'suspended_manually',
      );

      await cdc.grant();
      const t1 = Date.now();
      await d.p.waitFor(
        'the change made meanwhile on the platform',
        () => d.p.sim.store.byName(`${USERNAME_PREFIX}${login}`)?.state?.status === 'suspended_manually',
        150_000,
      );
      await until('healthy again', 60_000, (h) => h.status === 200);
      console.info(
        `[broken connector ${dialect}] healed ${Date.now() - t1} ms after the privilege came back`,
      );
      if (dialect === 'mysql')
        expect(await metrics(d)).toMatch(/lifestream_debezium_task_restarts_total\{[^}]*\} [1-9]/);
    }, 360_000);

    it('migrate for a connector user without the privileges: non-zero, with the GRANT lines', async () => {
      const bare = `cdc_bare_${randomBytes(3).toString('hex')}`;
      const admin = openBilling(dialect, dialect === 'pg' ? PG_ADMIN : MYSQL_ADMIN, { min: 0, max: 1 });
      try {
        if (dialect === 'pg') await admin.raw(`CREATE ROLE "${bare}" LOGIN PASSWORD 'x-pw-1'`);
        else await admin.raw(`CREATE USER '${bare}'@'%' IDENTIFIED BY 'x-pw-1'`);
        const raw = {
          ...JSON.parse(JSON.stringify(d.p.config)),
          capture: {
            ...d.p.config.capture,
            connect: {
              ...d.p.config.capture.connect,
              user: bare,
              password: 'x-pw-1',
              connectorName: `${d.connector}-bare`,
            },
          },
        };
        const child = cli(['migrate', '--config', writeConfig(raw)], { LOG_LEVEL: 'warn' });
        const { code } = await child.exited;
        const out = child.output();
        expect(code).not.toBe(0);
        if (dialect === 'pg') {
          expect(out).toContain(`ALTER ROLE "${bare}" REPLICATION;`);
          expect(out).toMatch(new RegExp(`GRANT SELECT ON "public"."vgroups", .* TO "${bare}";`));
        } else {
          expect(out).toMatch(
            new RegExp(
              `GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON \\*\\.\\* TO .${bare}.@.%.;`,
            ),
          );
        }
        expect(out).not.toContain('x-pw-1');
        // nothing registered for it
        expect((await fetch(`${CONNECT_URL}/connectors/${d.connector}-bare/status`)).status).toBe(404);
      } finally {
        if (dialect === 'pg') await admin.raw(`DROP ROLE IF EXISTS "${bare}"`).catch(() => undefined);
        else await admin.raw(`DROP USER IF EXISTS '${bare}'@'%'`).catch(() => undefined);
        await admin.destroy();
      }
    }, 120_000);

    it('migrate --uninstall removes the password file', async () => {
      const stored = (await (
        await fetch(`${CONNECT_URL}/connectors/${d.connector}/config`)
      ).json()) as Record<string, string>;
      const file = stored['database.password']!.slice('${file:'.length, -':password}'.length);
      const { uninstallConnector } = await import('../../../src/capture/debezium/install.js');
      await uninstallConnector(d.p.config, d.p.app.knex);
      expect(existsSync(file)).toBe(false);
    }, 60_000);
  });
}
