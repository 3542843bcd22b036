// Trigger capture as a real installation runs it, on PostgreSQL, MariaDB 10.11 and (when it runs)
// MariaDB 10.1 with the vendor's triggers and a STATEMENT binlog: the service connects as its own
// user holding exactly the README's grants and runs `migrate`, `run` and `doctor` as it; the
// billing writes as its own user (DML on LANBilling's tables, nothing else). Changes reach the
// platform, the service's own writes into the billing work, and on MySQL/MariaDB dropping the
// triggers' definer breaks the billing's writes until `migrate` re-creates them, as the README says.
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDebeziumServer } from '../../migrations/debezium/index.js';
import { createApp } from '../../src/app.js';
import { sqlDateTime } from '../../src/billing/sql-time.js';
import { BlockCode } from '../../src/billing/types.js';
import { withVgroupLocked } from '../../src/billing/write.js';
import { silentLogger } from '../../src/log.js';
import { runDoctor } from '../../src/ops/doctor.js';
import { migrateUp } from '../../src/state/migrate.js';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { billingSession, createBillingUser, createServiceUser, type DbUser } from '../support/db-users.js';
import { TRIGGER_SERVERS } from '../support/legacy.js';
import { type Pipeline, startPipeline, USERNAME_PREFIX } from '../support/pipeline.js';

const A = SAMPLE.accounts;
const T = TARIFFS;
const user = (login: string) => `${USERNAME_PREFIX}${login}`;
const at = (offsetMs: number) => sqlDateTime(new Date(Date.now() + offsetMs));

describe.each(TRIGGER_SERVERS)(
  "the billing's and the service's own users on $label",
  ({ dialect, server, label }) => {
    let db: TestDatabase;
    let billingUser: DbUser;
    let serviceUser: DbUser;
    let billing: Knex;
    let p: Pipeline;

    beforeAll(async () => {
      db = await createTestDatabase(dialect, 'usr', server);
      await createLanbillingSchema(db.knex, dialect);
      await loadSample(db.knex, dialect, new Date());
      billingUser = await createBillingUser(db);
      // MariaDB 10.11 here: SUPER; 10.1: the server setting a DBA makes instead (README, grants)
      if (server === 'legacy') await db.knex.raw('SET GLOBAL log_bin_trust_function_creators = 1');
      serviceUser = await createServiceUser(db, { binlog: server === 'legacy' ? 'trust' : 'super' });
      billing = billingSession(dialect, billingUser.url, 4);
      p = await startPipeline(dialect, 'usr', {
        database: db,
        config: { billing: { connection: serviceUser.url } },
      });
    });
    afterAll(async () => {
      await billing?.destroy();
      await p?.stop();
      await billingUser?.drop();
      await serviceUser?.drop();
    });

    async function calls(mark: number, login: string, n: number): Promise<string[]> {
      const mine = () => p.callsSince(mark).filter((c) => c.username === user(login));
      await p.waitFor(`${n} calls for ${login} on ${label}`, () => mine().length >= n, 15_000);
      return mine()
        .map((c) => c.text)
        .sort();
    }

    it("the billing's own writes reach the platform: a service now, one ending and one starting in seconds, a block, a balance", async () => {
      const u = user(A.svcBasic.login);
      let m = p.mark();
      await billing('services').insert({
        vg_id: A.svcBasic.vgId,
        tar_id: T.tvServices,
        serv_cat_idx: categoryIdx(T.tvServices, '5012'),
        timefrom: at(-60_000),
        timeto: at(2_500),
        state: 1,
      });
      await billing('services').insert({
        vg_id: A.svcBasic.vgId,
        tar_id: T.tvServices,
        serv_cat_idx: categoryIdx(T.tvServices, '5013'),
        timefrom: at(2_500),
        state: 1,
      });
      expect(await calls(m, A.svcBasic.login, 1)).toEqual([`enable ${u} 5012`]);
      m = p.mark();
      // no row changes: the timers of timeto and timefrom
      expect(await calls(m, A.svcBasic.login, 2)).toEqual([`disable ${u} 5012`, `enable ${u} 5013`]);

      const v = user(A.svcBlockedUser.login);
      m = p.mark();
      await billing('agreements').where({ agrm_id: A.svcBlockedUser.agrmId }).update({ balance: '321' });
      expect(await calls(m, A.svcBlockedUser.login, 1)).toEqual([`state ${v} suspended_manually 32100`]);
      m = p.mark();
      await billing('vgroups')
        .where({ vg_id: A.svcBasic.vgId })
        .update({ blocked: BlockCode.admin, blk_req: BlockCode.admin });
      await p.waitFor('the block to reach the platform', () =>
        p.callsSince(m).some((c) => c.text.startsWith(`state ${u} suspended_manually`)),
      );
    });

    it("the service's own writes into the billing work with its grants, and flow back", async () => {
      const m = p.mark();
      const idx = categoryIdx(T.tvServices, '5012');
      const done = await withVgroupLocked(p.app.knex, A.svcBlockedUser.vgId, async (trx) => {
        await trx('services').insert({
          vg_id: A.svcBlockedUser.vgId,
          tar_id: T.tvServices,
          serv_cat_idx: idx,
          timefrom: at(-1_000),
          state: 1,
          external_data: 'lifestream:test',
        });
        return trx('services')
          .where({ vg_id: A.svcBlockedUser.vgId, external_data: 'lifestream:test' })
          .update({ timeto: at(-500) });
      });
      expect(done).toBe(1);
      // the account is suspended by its block: the reconcile runs, nothing is enabled
      await p.waitFor(
        'the written rows to be handled',
        async () => (await p.service.changelog.count()) === 0,
      );
      expect(p.callsSince(m).filter((c) => c.text.startsWith('enable'))).toEqual([]);
    });

    it('doctor, as the service, finds the capture triggers in place and (MySQL) their definer able to work', async () => {
      const checks = await runDoctor(p.app);
      const capture = checks.filter((c) => c.name.startsWith('capture'));
      expect(capture.map((c) => [c.name, c.status])).toEqual([
        ['capture triggers', 'ok'],
        ...(dialect === 'mysql' ? [['capture trigger definer', 'ok']] : []),
      ]);
      if (server === 'legacy') expect(capture[0]!.detail).toMatch(/BEFORE slots.*lifestream_vgroups_upd/);
    });

    it.runIf(server === 'legacy')(
      'debezium mode: migrate and doctor say plainly that Debezium does not support this server',
      async () => {
        const ctx = { ...p.app.migration, captureMode: 'debezium' as const };
        await expect(checkDebeziumServer(p.app.knex, ctx)).rejects.toThrow(
          /Debezium 3\.x's MariaDB connector is tested against current MariaDB releases only.*10\.1\.23.*capture\.mode: triggers/,
        );
        const app = await createApp(
          { ...p.config, capture: { ...p.config.capture, mode: 'debezium' } },
          silentLogger,
        );
        try {
          const version = (await runDoctor(app)).find((c) => c.name === 'server version');
          expect(version).toMatchObject({
            status: 'fail',
            detail: expect.stringMatching(/MariaDB connector.*capture\.mode: triggers/),
          });
        } finally {
          await app.close();
        }
      },
    );

    it.runIf(dialect === 'mysql')(
      "a dropped definer breaks the billing's writes; doctor names it; migrate as another account mends it",
      async () => {
        await p.service.stop();
        const definer = new URL(serviceUser.url).username;
        await serviceUser.drop();
        await expect(
          billing('vgroups').where({ vg_id: A.svcBasic.vgId }).update({ blocked: 0 }),
        ).rejects.toThrow(/definer .*does not exist/);
        // doctor and migrate as the database's administrator (the service's own account is gone)
        const admin = await createApp(
          { ...p.config, billing: { ...p.config.billing, connection: db.url } },
          silentLogger,
        );
        try {
          const definerCheck = (await runDoctor(admin)).find((c) => c.name === 'capture trigger definer');
          expect(definerCheck?.status).toBe('fail');
          expect(definerCheck?.detail).toMatch(
            new RegExp(`'${definer}'@'%' does not exist: every billing write`),
          );
          const applied = await migrateUp(admin.knex, admin.migration);
          expect(applied).toHaveLength(1);
          expect(applied[0]).toMatch(/^capture objects restored: .*\(definer-gone\)/);
          await billing('vgroups').where({ vg_id: A.svcBasic.vgId }).update({ blocked: 0 });
          expect((await runDoctor(admin)).find((c) => c.name === 'capture trigger definer')?.status).toBe(
            'ok',
          );
        } finally {
          await admin.close();
        }
      },
    );
  },
);
