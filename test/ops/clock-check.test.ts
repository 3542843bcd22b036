// doctor's check of the billing's clock: the zone and where it came from, the database's NOW()
// read in that zone against the service's clock, and a warning when they disagree.
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { billingClock, UTC_CLOCK } from '../../src/billing/clock.js';
import { parseConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { runDoctor } from '../../src/ops/doctor.js';
import { clockCheck } from '../../src/ops/clock-check.js';
import { type BillingClockSetting, setBillingClock } from '../support/billing-clock.js';
import { createTestDatabase, DIALECTS } from '../support/db.js';

const now = new Date('2026-12-04T18:10:00Z');
const yekaterinburg = billingClock('Asia/Yekaterinburg');

describe('the clock check', () => {
  it('ok within a few seconds, saying the zone, its source and both clocks', () => {
    const c = clockCheck(
      yekaterinburg,
      "the database's TimeZone setting 'Asia/Yekaterinburg'",
      '2026-12-04 23:10:02',
      now,
    );
    expect(c.status).toBe('ok');
    expect(c.detail).toBe(
      "Asia/Yekaterinburg (the database's TimeZone setting 'Asia/Yekaterinburg'); the database's NOW() is " +
        "2026-12-04 23:10:02 there = 2026-12-04T23:10:02+05:00, the service's clock 2026-12-04T23:10:00+05:00: 2 s apart",
    );
  });

  it('warns when the clocks drift apart by more than a few seconds', () => {
    const c = clockCheck(UTC_CLOCK, 'x', '2026-12-04 18:10:30', now);
    expect(c).toMatchObject({ status: 'warn' });
    expect(c.detail).toMatch(/the database is 30 s ahead — one of the two machines has a wrong clock/);
  });

  it("warns, hours apart, that the zone is not the billing's", () => {
    const configured = clockCheck(
      billingClock('Europe/Moscow'),
      'billing.timeZone in the configuration',
      '2026-12-04 23:10:00',
      now,
    );
    expect(configured.status).toBe('warn');
    expect(configured.detail).toMatch(
      /the database is 2 h 0 min ahead — the database's own zone is not billing\.timeZone/,
    );
    const found = clockCheck(UTC_CLOCK, 'the server', '2026-12-04 13:10:00', now);
    expect(found.detail).toMatch(/5 h 0 min behind — the database's zone was misread: set billing\.timeZone/);
  });
});

describe.each(DIALECTS)('doctor on %s with the billing clock at UTC+5', (dialect) => {
  const settings: BillingClockSetting[] = [];
  afterAll(async () => Promise.all(settings.map((s) => s.close())));

  it('reports the zone it reads the billing in, and the database agreeing with the service', async () => {
    const db = await createTestDatabase(dialect, 'doc');
    const zoned = await setBillingClock(db, 'Asia/Yekaterinburg');
    settings.push(zoned);
    const config = (extra: Record<string, unknown>) =>
      parseConfig({
        billing: { client: dialect, connection: db.url, ...zoned.config, ...extra },
        smotreshka: { url: 'http://127.0.0.1:9/', retries: 0, timeoutMs: 200 },
      });
    const check = async (extra: Record<string, unknown>) => {
      const app = await createApp(config(extra), silentLogger);
      try {
        return (await runDoctor(app)).find((c) => c.name === "billing's clock");
      } finally {
        await app.close();
      }
    };
    if (dialect === 'pg') {
      // found by itself, and the database's NOW() (its wall clock) is the service's now
      expect(await check({})).toMatchObject({
        status: 'ok',
        detail: expect.stringMatching(
          /^Asia\/Yekaterinburg \(the database's TimeZone setting 'Asia\/Yekaterinburg'\); .*\+05:00.*: \d s apart$/,
        ),
      });
      // a billing.timeZone that is not the database's: hours apart, said plainly
      expect(await check({ timeZone: 'Europe/Moscow' })).toMatchObject({
        status: 'warn',
        detail: expect.stringMatching(/2 h 0 min ahead — the database's own zone is not billing\.timeZone/),
      });
    } else {
      // MariaDB: the server's zone is this machine's (UTC), the billing's sessions run at +05:00
      // (billing.timeZone): doctor says the database's default zone disagrees, and why that may be right
      expect(await check({})).toMatchObject({
        status: 'warn',
        detail: expect.stringMatching(
          /^Asia\/Yekaterinburg \(billing\.timeZone in the configuration\); .*5 h 0 min behind.*sets its sessions' zone itself/,
        ),
      });
      expect(await check({ timeZone: undefined })).toMatchObject({
        status: 'ok',
        detail: expect.stringMatching(/^UTC \(the server's system zone/),
      });
    }
  });
});
