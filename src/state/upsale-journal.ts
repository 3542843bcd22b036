// The upsale journal (<prefix>upsale, migrations/003_upsale.ts and 006_upsale_binding.ts): one row
// per sale, keyed by the platform's qsTransactionId. Ensure creates it (state `ensured`) with what
// binds the sale: the account, the operation, the offers, trialDays and the billingTransactionId
// it answers; commit turns it to `committed` in the same database transaction as its services
// row. Every method takes the connection to use, so commit can record itself inside that
// transaction.
import type { Knex } from 'knex';
import { sqlDateTime } from '../billing/sql-time.js';

export type SaleKind = 'add' | 'replace';

export interface SaleRecord {
  qsTransactionId: string;
  billingTransactionId: string;
  kind: SaleKind;
  state: 'ensured' | 'committed';
  vgId: number;
  /** how the first ensure named the account (null: not sent, or a row from before 006) */
  accountId: string | null;
  accountLogin: string | null;
  newOfferId: string;
  oldOfferId: string | null;
  trialDays: number;
  /** the basic rows (service_id) the account held, in force or planned, at the first ensure; null = not recorded */
  basicsSeen: number[] | null;
  serviceId: number | null;
  closedServiceIds: number[];
  billingStartAt: Date | null;
}

/** What ensure records: the binding, before anything is committed. */
export type EnsuredSale = Omit<SaleRecord, 'state' | 'serviceId' | 'closedServiceIds' | 'billingStartAt'>;

/** What commit adds to the ensured row. */
export type CommittedSale = Pick<
  SaleRecord,
  'qsTransactionId' | 'serviceId' | 'closedServiceIds' | 'billingStartAt'
>;

/** Unique-key violations of both servers: PostgreSQL 23505, MySQL/MariaDB ER_DUP_ENTRY 1062. */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown };
  return e?.code === '23505' || e?.code === 'ER_DUP_ENTRY' || e?.errno === 1062;
}

export class UpsaleJournal {
  readonly table: string;
  readonly agreementLocks: string;

  constructor(prefix: string) {
    this.table = `${prefix}upsale`;
    this.agreementLocks = `${prefix}upsale_agreement`;
  }

  async get(db: Knex, qsTransactionId: string): Promise<SaleRecord | null> {
    const row = await db(this.table).where({ qs_transaction_id: qsTransactionId }).first();
    // MySQL's collation is binary for this column, PostgreSQL compares exactly: still, be sure.
    if (!row || String(row.qs_transaction_id) !== qsTransactionId) return null;
    return fromRow(row);
  }

  /**
   * Records a reservation; false when the qsTransactionId is already taken (a concurrent ensure).
   * The billingTransactionId is unique too: a collision there is not a twin, and is thrown.
   */
  async insertEnsured(db: Knex, sale: EnsuredSale, at: Date): Promise<boolean> {
    try {
      await db(this.table).insert({ ...bindingRow(sale), state: 'ensured', ensured_at: sqlDateTime(at) });
      return true;
    } catch (err) {
      if (isDuplicateKey(err) && (await this.get(db, sale.qsTransactionId)) !== null) return false;
      throw err;
    }
  }

  /**
   * Turns the reservation to committed. Runs under the account's row lock after reading the row
   * as ensured, so exactly one row must change; anything else is a fault and rolls back the
   * caller's transaction with everything it wrote.
   */
  async recordCommit(db: Knex, sale: CommittedSale, at: Date): Promise<void> {
    const n = await db(this.table)
      .where({ qs_transaction_id: sale.qsTransactionId, state: 'ensured' })
      .update({
        state: 'committed',
        service_id: sale.serviceId,
        closed_service_ids: JSON.stringify(sale.closedServiceIds),
        billing_start_at: sale.billingStartAt ? sqlDateTime(sale.billingStartAt) : null,
        committed_at: sqlDateTime(at),
      });
    if (n !== 1) throw new Error(`upsale ${sale.qsTransactionId}: reservation changed under the row lock`);
  }

  /**
   * Holds the agreement's sale lock until `trx` ends: commits on any account of one agreement are
   * decided one at a time. The upsert takes the row lock whether the row exists or not (an insert
   * that meets a concurrent one waits for it), on both servers.
   */
  async lockAgreement(trx: Knex.Transaction, agrmId: number): Promise<void> {
    await trx(this.agreementLocks).insert({ agrm_id: agrmId }).onConflict('agrm_id').merge();
  }
}

function bindingRow(sale: EnsuredSale) {
  return {
    qs_transaction_id: sale.qsTransactionId,
    billing_transaction_id: sale.billingTransactionId,
    kind: sale.kind,
    vg_id: sale.vgId,
    account_id: sale.accountId,
    account_login: sale.accountLogin,
    new_offer_id: sale.newOfferId,
    old_offer_id: sale.oldOfferId,
    trial_days: sale.trialDays,
    basics_seen: sale.basicsSeen === null ? null : JSON.stringify(sale.basicsSeen),
  };
}

const textOrNull = (v: unknown) => (v == null ? null : String(v));

function fromRow(r: Record<string, unknown>): SaleRecord {
  return {
    qsTransactionId: String(r.qs_transaction_id),
    billingTransactionId: String(r.billing_transaction_id),
    kind: r.kind === 'replace' ? 'replace' : 'add',
    state: r.state === 'committed' ? 'committed' : 'ensured',
    vgId: Number(r.vg_id),
    accountId: textOrNull(r.account_id),
    accountLogin: textOrNull(r.account_login),
    newOfferId: String(r.new_offer_id),
    oldOfferId: textOrNull(r.old_offer_id),
    trialDays: Number(r.trial_days),
    basicsSeen: r.basics_seen == null ? null : (JSON.parse(String(r.basics_seen)) as number[]),
    serviceId: r.service_id == null ? null : Number(r.service_id),
    closedServiceIds:
      r.closed_service_ids == null ? [] : (JSON.parse(String(r.closed_service_ids)) as number[]),
    billingStartAt: r.billing_start_at instanceof Date ? r.billing_start_at : null,
  };
}
