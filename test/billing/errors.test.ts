// Which billing errors are refusals for good (park the account with the database's words) and
// which may pass (retry): real errors of both servers on the real schema.
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingRefusal } from '../../src/billing/errors.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { loadSample, SAMPLE } from '../fixture/sample.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/db.js';

async function errorOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (err) {
    return err;
  }
  throw new Error('expected the statement to fail');
}

describe.each(DIALECTS)('billing refusals on %s', (dialect) => {
  let db: TestDatabase;
  let knex: Knex;
  const vgId = SAMPLE.accounts.inetOnly.vgId;
  const category = { tar_id: SAMPLE.tariffs.internetOnly, serv_cat_idx: 1 };

  beforeAll(async () => {
    db = await createTestDatabase(dialect, 'refuse');
    await createLanbillingSchema(db.knex, dialect);
    await loadSample(db.knex, dialect, new Date());
    knex = db.knex;
  });
  afterAll(async () => db?.drop());

  it("NOT NULL, foreign keys, unique keys and values too long are refusals, with the server's message", async () => {
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ['not null', () => knex('services').where({ vg_id: vgId }).update({ activated: null }), /null/i],
      ['foreign key', () => knex('services').insert({ vg_id: 987654, ...category }), /foreign key/i],
      [
        'unique key',
        () => knex('service_categories').insert({ ...category, uuid: 'x' }),
        /duplicate|unique/i,
      ],
      [
        'too long',
        () =>
          knex('services')
            .where({ vg_id: vgId })
            .update({ comment: 'x'.repeat(300) }),
        /too long/i,
      ],
    ];
    for (const [what, work, text] of cases) {
      const refusal = billingRefusal(await errorOf(work));
      expect(refusal, what).toMatch(text);
      expect(refusal, what).toMatch(dialect === 'pg' ? /\(PostgreSQL \w{5}: / : /\(MySQL \d+: /);
      // the database's words, not the statement knex puts in front of them
      expect(refusal, what).not.toMatch(/insert into|update [`"]services[`"] set/i);
    }
  });

  it('a lock wait that times out is not a refusal: it may pass', async () => {
    const holder = await knex.transaction();
    try {
      await holder('vgroups').where({ vg_id: vgId }).forUpdate().first('vg_id');
      const err = await errorOf(() =>
        knex.transaction(async (trx) => {
          await trx.raw(
            dialect === 'pg'
              ? "SET LOCAL lock_timeout = '200ms'"
              : 'SET SESSION innodb_lock_wait_timeout = 1',
          );
          await trx('vgroups').where({ vg_id: vgId }).update({ descr: 'waits' });
        }),
      );
      expect((err as { code?: string; errno?: number }).code ?? '').toMatch(
        dialect === 'pg' ? /55P03/ : /LOCK_WAIT/,
      );
      expect(billingRefusal(err)).toBeNull();
    } finally {
      await holder.rollback();
    }
  });
});

describe('errors that are never refusals', () => {
  it('deadlocks, serialization failures, lost connections and anything unknown', () => {
    const deadlock = Object.assign(new Error('Deadlock found'), {
      errno: 1213,
      sqlMessage: 'Deadlock found',
    });
    const pgDeadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    const serialization = Object.assign(new Error('could not serialize'), { code: '40001' });
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const gone = Object.assign(new Error('server has gone away'), { errno: 2006, sqlMessage: 'gone' });
    for (const e of [deadlock, pgDeadlock, serialization, refused, gone, new TypeError('x'), null, 'text']) {
      expect(billingRefusal(e)).toBeNull();
    }
  });
});
