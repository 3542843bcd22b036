// The real-installations acceptance test (issue 9): everything a real LANBilling is at once, on
// every trigger-capture server (PostgreSQL, MariaDB 10.11 and MariaDB 10.1 with a STATEMENT
// binlog, the MySQL-5.6-class server): the vendor's schema loaded as it is (zero dates, NOT NULL,
// its own triggers), the billing's clock at UTC+5 (Asia/Yekaterinburg), the billing writing as
// its own DML-only user with its own NOW(), and the service running as its own user with exactly
// the README's grants. Through the running service, as an operator would see it:
//
//   a service assigned now, one expiring and one starting in seconds, a block, a balance change,
//   a layout-2 tariff move (the service re-attaches every subscription) and an upsale commit sent
//   to the service's HTTP endpoints (written with the billing's wall clock, answered with +05:00).
//
// Each of these failed on main before the real-installations work: with a UTC reading of a UTC+5
// clock nothing assigned "now" reached the platform (read as five hours ahead), expiries fired five
// hours late, and the upsale and re-attach inserts were refused (`activated` NULL).
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCode } from '../../src/billing/types.js';
import { categoryIdx, TARIFFS } from '../fixture/catalogue.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { type BillingClockSetting, serviceRow, setBillingClock } from '../support/billing-clock.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createBillingUser, createServiceUser, type DbUser } from '../support/db-users.js';
import { TRIGGER_SERVERS } from '../support/legacy.js';
import { type Pipeline, startPipeline, USERNAME_PREFIX } from '../support/pipeline.js';

const A = SAMPLE.accounts;
const T = TARIFFS;
const ZONE = 'Asia/Yekaterinburg';
const user = (login: string) => `${USERNAME_PREFIX}${login}`;

describe.each(TRIGGER_SERVERS)(
  'a real installation on $label: real schema, UTC+5, its own users',
  ({ dialect, server, label }) => {
    let db: TestDatabase;
    let billingUser: DbUser;
    let serviceUser: DbUser;
    let zoned: BillingClockSetting;
    /** the billing's own DML-only sessions, on its clock */
    let billing: Knex;
    let p: Pipeline;

    beforeAll(async () => {
      db = await createTestDatabase(dialect, 'acc', server);
      await createLanbillingSchema(db.knex, dialect);
      billingUser = await createBillingUser(db);
      zoned = await setBillingClock(db, ZONE, { writerUrl: billingUser.url });
      billing = zoned.writer;
      await loadSample(db.knex, dialect, new Date(), zoned.clock);
      if (server === 'legacy') await db.knex.raw('SET GLOBAL log_bin_trust_function_creators = 1');
      serviceUser = await createServiceUser(db, { binlog: server === 'legacy' ? 'trust' : 'super' });
      p = await startPipeline(dialect, 'acc', {
        database: db,
        listen: '127.0.0.1:0',
        upsale: true,
        // PostgreSQL: the service finds the zone itself; MariaDB: billing.timeZone, as an operator sets it
        config: { billing: { connection: serviceUser.url, ...zoned.config } },
      });
    });
    afterAll(async () => {
      await billing?.destroy();
      await p?.stop();
      await billingUser?.drop();
      await serviceUser?.drop();
    });

    async function callsFor(mark: number, login: string, n: number, timeoutMs = 15_000): Promise<string[]> {
      const mine = () => p.callsSince(mark).filter((c) => c.username === user(login));
      await p.waitFor(`${n} calls for ${login} on ${label}`, () => mine().length >= n, timeoutMs);
      return mine()
        .map((c) => c.text)
        .sort();
    }

    /** The billing's own NOW() as 'YYYY-MM-DD HH:MM:SS', on its own session. */
    async function billingWallNow(): Promise<string> {
      const r = await billing.raw(
        dialect === 'pg'
          ? "SELECT to_char(LOCALTIMESTAMP(0), 'YYYY-MM-DD HH24:MI:SS') AS now"
          : "SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now",
      );
      return String((dialect === 'pg' ? r.rows : r[0])[0].now);
    }
    const asText = (column: string) =>
      dialect === 'pg'
        ? db.knex.raw(`to_char(??, 'YYYY-MM-DD HH24:MI:SS') AS ??`, [column, column])
        : db.knex.raw(`DATE_FORMAT(??, '%Y-%m-%d %H:%i:%s') AS ??`, [column, column]);
    const wallSeconds = (wall: string) => Date.parse(`${wall.replace(' ', 'T')}Z`) / 1000;

    it('the billing clock really is UTC+5 for the billing, and the service knows it', async () => {
      const wall = await billingWallNow();
      const offsetH = (wallSeconds(wall) - Date.now() / 1000) / 3600;
      expect(Math.round(offsetH)).toBe(5);
      expect(p.app.clock.zone).toBe(ZONE);
    });

    it("a service assigned now, one expiring and one starting in seconds, by the billing's NOW()", async () => {
      const u = user(A.svcBasic.login);
      let m = p.mark();
      const idx = (offer: '5012' | '5013') => categoryIdx(T.tvServices, offer);
      // assigned now, ending in 3 s on the billing's clock; another starting in 3 s
      await billing('services').insert(
        serviceRow(A.svcBasic.vgId, T.tvServices, idx('5012'), zoned.now(), zoned.now(3)),
      );
      await billing('services').insert(serviceRow(A.svcBasic.vgId, T.tvServices, idx('5013'), zoned.now(3)));
      expect(await callsFor(m, A.svcBasic.login, 1)).toEqual([`enable ${u} 5012`]);
      m = p.mark();
      // no row changes: the timers of timeto and timefrom, at the billing's moment, not five hours off
      expect(await callsFor(m, A.svcBasic.login, 2)).toEqual([`disable ${u} 5012`, `enable ${u} 5013`]);
    });

    it('a balance change and a block', async () => {
      const v = user(A.svcBlockedUser.login);
      let m = p.mark();
      await billing('agreements').where({ agrm_id: A.svcBlockedUser.agrmId }).update({ balance: '321' });
      expect(await callsFor(m, A.svcBlockedUser.login, 1)).toEqual([`state ${v} suspended_manually 32100`]);
      const u = user(A.svcBasic.login);
      m = p.mark();
      await billing('vgroups')
        .where({ vg_id: A.svcBasic.vgId })
        .update({ blocked: BlockCode.admin, blk_req: BlockCode.admin });
      await p.waitFor('the block to reach the platform', () =>
        p.callsSince(m).some((c) => c.text.startsWith(`state ${u} suspended_manually`)),
      );
    });

    it('layout 2: a tariff move by the billing keeps every subscription; the service re-attaches them at its wall clock', async () => {
      const vgId = A.inetTvA.vgId;
      const before = p.subscriptionsOf(A.inetTvA.login);
      expect(before).toEqual(['101', '5010']);
      const m = p.mark();
      const wallBefore = await billingWallNow();
      await billing('vgroups').where({ vg_id: vgId }).update({ tar_id: T.internetTvB });
      const moved = await p.waitFor(
        'the re-attached services on the new tariff',
        async () => {
          const rows = await db
            .knex('services')
            .where({ vg_id: vgId, tar_id: T.internetTvB })
            .select('serv_cat_idx', asText('timefrom'), asText('timeto'));
          return rows.length >= 2 ? rows : null;
        },
        15_000,
      );
      const wallAfter = await billingWallNow();
      // the TV services move (basic 101, additional 5010); the static IP is not the service's
      expect(moved.map((r) => Number(r.serv_cat_idx)).sort()).toEqual(
        [categoryIdx(T.internetTvB, '101'), categoryIdx(T.internetTvB, '5010')].sort(),
      );
      for (const row of moved) {
        expect(wallSeconds(row.timefrom)).toBeGreaterThanOrEqual(wallSeconds(wallBefore) - 1);
        expect(wallSeconds(row.timefrom)).toBeLessThanOrEqual(wallSeconds(wallAfter) + 1);
        expect(row.timeto).toBe('9999-12-31 23:59:59');
      }
      // let the re-attach's own change log drain: no disable/enable, the same subscriptions
      await p.waitFor('the change log to drain', async () => (await p.service.changelog.count()) === 0);
      await new Promise((r) => setTimeout(r, 500));
      expect(
        p.callsSince(m).filter((c) => c.username === user(A.inetTvA.login) && !c.text.startsWith('state')),
      ).toEqual([]);
      expect(p.subscriptionsOf(A.inetTvA.login)).toEqual(before);
    });

    it('an upsale commit through the HTTP endpoints is written with the billing wall clock and answered with +05:00', async () => {
      const vgId = A.svcFuture.vgId;
      const qs = `acc-${dialect}-${server}-${Date.now()}`;
      const base = p.service.url!;
      const post = async (path: string, q: Record<string, string>) => {
        const res = await fetch(`${base}/upsale/v3/${path}?${new URLSearchParams(q)}`, { method: 'POST' });
        return { status: res.status, body: (await res.json()) as Record<string, string> };
      };
      const q = { accountLogin: user(A.svcFuture.login), newOfferId: '5010', qsTransactionId: qs };
      const ensure = await post('add-subscription/ensure', q);
      expect(ensure).toMatchObject({ status: 200, body: { result: 'operation_ensured' } });
      const wallBefore = await billingWallNow();
      const commit = await post('add-subscription/commit', {
        ...q,
        billingTransactionId: ensure.body.billingTransactionId!,
      });
      const wallAfter = await billingWallNow();
      expect(commit).toMatchObject({
        status: 200,
        body: {
          result: 'operation_commited',
          billingStartTimestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:00$/),
        },
      });
      const [row] = await db
        .knex('services')
        .where({ vg_id: vgId, external_data: `lifestream:qs=${qs}` })
        .select(asText('timefrom'), asText('timeto'));
      expect(wallSeconds(row.timefrom)).toBeGreaterThanOrEqual(wallSeconds(wallBefore) - 1);
      expect(wallSeconds(row.timefrom)).toBeLessThanOrEqual(wallSeconds(wallAfter));
      expect(commit.body.billingStartTimestamp!.slice(0, 19).replace('T', ' ')).toBe(row.timefrom);
      expect(row.timeto).toBe('9999-12-31 23:59:59');
      // the same commit again: the same answer, nothing written twice
      const again = await post('add-subscription/commit', {
        ...q,
        billingTransactionId: ensure.body.billingTransactionId!,
      });
      expect(again.body).toEqual(commit.body);
      const [counted] = await db
        .knex('services')
        .where({ external_data: `lifestream:qs=${qs}` })
        .count({ n: '*' });
      expect(Number(counted?.n)).toBe(1);
      // and the platform ends with what the billing holds
      await p.waitFor('the platform to hold the sale', () =>
        p.subscriptionsOf(A.svcFuture.login)?.includes('5010'),
      );
    });
  },
);
