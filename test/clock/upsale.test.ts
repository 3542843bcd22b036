// Upsale with the billing's clock at UTC+5 (Asia/Yekaterinburg), on both servers: a commit writes
// `timefrom` as the billing's wall clock now (what its own NOW() says), answers
// billingStartTimestamp with +05:00, closes a replaced basic at that wall time, and prices by the
// billing's calendar month. The rows are read back as text, exactly as stored.
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UTC_CLOCK } from '../../src/billing/clock.js';
import { offerCategories } from '../../src/billing/upsale-sql.js';
import { migrateUp } from '../../src/state/migrate.js';
import { buildUpsaleServer } from '../../src/upsale/server.js';
import { TARIFFS } from '../fixture/catalogue.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { type BillingClockSetting, setBillingClock } from '../support/billing-clock.js';
import { createTestDatabase, DIALECTS } from '../support/db.js';
import { call, depsFor, loginOf, subscriptionsOf, txId } from '../upsale/support.js';

const A = SAMPLE.accounts;
const ZONE = 'Asia/Yekaterinburg';

describe.each(DIALECTS)('upsale on %s with the billing clock at UTC+5', (dialect) => {
  let zoned: BillingClockSetting;
  let knex: Knex;
  let app: FastifyInstance;

  beforeAll(async () => {
    const db = await createTestDatabase(dialect, 'upclk');
    zoned = await setBillingClock(db, ZONE);
    knex = db.knex;
    await createLanbillingSchema(knex, dialect);
    await loadSample(knex, dialect, new Date(), zoned.clock);
    await migrateUp(knex, { dialect, prefix: 'lifestream_', captureMode: 'triggers' });
    // PostgreSQL: the service finds the zone itself; MariaDB: billing.timeZone (zoned.config)
    app = await buildUpsaleServer(depsFor(knex, { clock: zoned.clock }));
  });
  afterAll(async () => {
    await app?.close();
    await zoned?.close();
  });

  /** A DATETIME column as stored, 'YYYY-MM-DD HH:MM:SS'. */
  const asText = (column: string) =>
    dialect === 'pg'
      ? knex.raw(`to_char(??, 'YYYY-MM-DD HH24:MI:SS') AS ??`, [column, column])
      : knex.raw(`DATE_FORMAT(??, '%Y-%m-%d %H:%i:%s') AS ??`, [column, column]);
  /** The billing's own NOW(), on its own session. */
  async function billingNow(): Promise<string> {
    const r = await zoned.writer.raw(
      dialect === 'pg'
        ? "SELECT to_char(LOCALTIMESTAMP(0), 'YYYY-MM-DD HH24:MI:SS') AS now"
        : "SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now",
    );
    return String((dialect === 'pg' ? r.rows : r[0])[0].now);
  }
  const seconds = (wall: string) => Date.parse(`${wall.replace(' ', 'T')}Z`) / 1000;

  it("add: timefrom is the billing's wall clock now, and billingStartTimestamp says +05:00", async () => {
    const vgId = A.svcFuture.vgId;
    const qs = txId('clk-add');
    const before = await billingNow();
    const r = await call(app, 'add/commit', {
      accountLogin: loginOf(vgId),
      newOfferId: '5010',
      qsTransactionId: qs,
    });
    const after = await billingNow();
    expect(r.body).toMatchObject({
      result: 'operation_commited',
      billingStartTimestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:00$/),
    });
    const [row] = await knex('services')
      .where({ external_data: `lifestream:qs=${qs}` })
      .select(
        asText('timefrom'),
        asText('timeto'),
        knex.raw(`CAST(activated AS ${dialect === 'pg' ? 'text' : 'char'}) AS activated`),
      );
    // the wall clock the billing itself shows, not UTC's (five hours behind); PostgreSQL rounds
    // LOCALTIMESTAMP(0) to the nearest second where the service cuts, hence the second's slack
    expect(seconds(row.timefrom)).toBeGreaterThanOrEqual(seconds(before) - 1);
    expect(seconds(row.timefrom)).toBeLessThanOrEqual(seconds(after));
    // the answer is the same moment, written with the billing's offset
    expect(String(r.body.billingStartTimestamp).slice(0, 19).replace('T', ' ')).toBe(row.timefrom);
    expect(row.timeto).toBe('9999-12-31 23:59:59');
    // not activated: the zero date (PostgreSQL: the translation's -infinity), never NULL
    expect(row.activated).toBe(dialect === 'pg' ? '-infinity' : '0000-00-00 00:00:00');
    expect(await subscriptionsOf(knex, vgId, new Date(), zoned.clock)).toContain('5010');
  });

  it('replace at a given start: the old basic is closed and the new one starts at its wall time', async () => {
    const vgId = A.inetTvA.vgId;
    const qs = txId('clk-repl');
    const start = new Date(Math.floor(Date.now() / 1000) * 1000 - 10 * 60_000);
    const oldRow = await knex('services')
      .where({ vg_id: vgId, tar_id: TARIFFS.internetTvA, serv_cat_idx: 2 })
      .first('service_id');
    const r = await call(app, 'replace/commit', {
      accountLogin: loginOf(vgId),
      oldOfferId: '101',
      newOfferId: '100',
      qsTransactionId: qs,
      // the same instant as the platform may write it: with Moscow's offset
      serviceStartTimestamp: new Date(start.getTime() + 3 * 3600_000).toISOString().replace('Z', '+03:00'),
    });
    expect(r.body).toMatchObject({
      result: 'operation_commited',
      billingStartTimestamp: zoned.clock.rfc3339(start),
    });
    expect(zoned.clock.rfc3339(start)).toMatch(/\+05:00$/);
    const wall = zoned.clock.toWall(start);
    const [closed] = await knex('services').where({ service_id: oldRow.service_id }).select(asText('timeto'));
    expect(closed.timeto).toBe(wall);
    const [sold] = await knex('services')
      .where({ external_data: `lifestream:qs=${qs}` })
      .select(asText('timefrom'));
    expect(sold.timefrom).toBe(wall);
    expect(await subscriptionsOf(knex, vgId, new Date(), zoned.clock)).toEqual(['100', '5010']);
  });

  it("prices by the billing's calendar: the first minutes of a month there are already that month", async () => {
    // the sample raises offer 101 on the «Услуги» tariff from next month (billing calendar)
    const { year, month } = zoned.clock.calendarMonth(new Date());
    const next = month === 12 ? { year: year + 1, month: 1 } : { year, month: month + 1 };
    const wall = `${next.year}-${String(next.month).padStart(2, '0')}-01 00:30:00`;
    const at = zoned.clock.fromWall(wall, 'at')!;
    // in UTC that instant is still the last evening of the month before
    expect(UTC_CLOCK.calendarMonth(at).month).toBe(month);
    const [offer] = await offerCategories(knex, [TARIFFS.tvServices], '101', at, zoned.clock);
    expect(offer?.price).toBe('399.000000');
    const [before] = await offerCategories(
      knex,
      [TARIFFS.tvServices],
      '101',
      new Date(at.getTime() - 3600_000),
      zoned.clock,
    );
    expect(before?.price).toBe('349.000000');
  });
});
