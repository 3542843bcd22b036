// The upsale journal (<prefix>upsale, migrations/003_upsale.ts): what ensure reserved and what
// commit wrote, by the platform's transaction id. Every method takes the connection to use, so
// commit can record itself inside the same database transaction as its services row.
import type { Knex } from 'knex';
import { sqlDateTime } from '../billing/sql-time.js';

export type SaleKind = 'add' | 'replace';

export interface SaleRecord {
  qsTransactionId: string;
  billingTransactionId: string;
  kind: SaleKind;
  state: 'ensured' | 'committed';
  vgId: number;
  newOfferId: string;
  oldOfferId: string | null;
  trialDays: number;
  serviceId: number | null;
  closedServiceIds: number[];
  billingStartAt: Date | null;
}

/** Unique-key violations of both servers: PostgreSQL 23505, MySQL/MariaDB ER_DUP_ENTRY 1062. */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown };
  return e?.code === '23505' || e?.code === 'ER_DUP_ENTRY' || e?.errno === 1062;
}

export class UpsaleJournal {
  readonly table: string;

  constructor(prefix: string) {
    this.table = `${prefix}upsale`;
  }

  async get(db: Knex, qsTransactionId: string): Promise<SaleRecord | null> {
    const row = await db(this.table).where({ qs_transaction_id: qsTransactionId }).first();
    // MySQL's collation is binary for this column, PostgreSQL compares exactly: still, be sure.
    if (!row || String(row.qs_transaction_id) !== qsTransactionId) return null;
    return fromRow(row);
  }

  /** Records a reservation; false when the id is already taken (a concurrent ensure or commit). */
  async insertEnsured(
    db: Knex,
    sale: Omit<SaleRecord, 'state' | 'serviceId' | 'closedServiceIds' | 'billingStartAt'>,
    at: Date,
  ): Promise<boolean> {
    try {
      await db(this.table).insert({ ...baseRow(sale), state: 'ensured', ensured_at: sqlDateTime(at) });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  /**
   * Records the commit. With a prior reservation the row is turned to committed (only if it still
   * is ensured); without one it is inserted, and the primary key refuses a concurrent twin — the
   * caller's transaction then rolls back with everything it wrote.
   */
  async recordCommit(db: Knex, sale: SaleRecord, hadReservation: boolean, at: Date): Promise<void> {
    const committed = {
      state: 'committed',
      service_id: sale.serviceId,
      closed_service_ids: JSON.stringify(sale.closedServiceIds),
      billing_start_at: sale.billingStartAt ? sqlDateTime(sale.billingStartAt) : null,
      committed_at: sqlDateTime(at),
    };
    if (hadReservation) {
      const n = await db(this.table)
        .where({ qs_transaction_id: sale.qsTransactionId, state: 'ensured' })
        .update(committed);
      if (n !== 1) throw new Error(`upsale ${sale.qsTransactionId}: reservation changed under the row lock`);
      return;
    }
    await db(this.table).insert({ ...baseRow(sale), ...committed });
  }
}

function baseRow(
  sale: Pick<
    SaleRecord,
    'qsTransactionId' | 'billingTransactionId' | 'kind' | 'vgId' | 'newOfferId' | 'oldOfferId' | 'trialDays'
  >,
) {
  return {
    qs_transaction_id: sale.qsTransactionId,
    billing_transaction_id: sale.billingTransactionId,
    kind: sale.kind,
    vg_id: sale.vgId,
    new_offer_id: sale.newOfferId,
    old_offer_id: sale.oldOfferId,
    trial_days: sale.trialDays,
  };
}

function fromRow(r: Record<string, unknown>): SaleRecord {
  return {
    qsTransactionId: String(r.qs_transaction_id),
    billingTransactionId: String(r.billing_transaction_id),
    kind: r.kind === 'replace' ? 'replace' : 'add',
    state: r.state === 'committed' ? 'committed' : 'ensured',
    vgId: Number(r.vg_id),
    newOfferId: String(r.new_offer_id),
    oldOfferId: r.old_offer_id == null ? null : String(r.old_offer_id),
    trialDays: Number(r.trial_days),
    serviceId: r.service_id == null ? null : Number(r.service_id),
    closedServiceIds:
      r.closed_service_ids == null ? [] : (JSON.parse(String(r.closed_service_ids)) as number[]),
    billingStartAt: r.billing_start_at instanceof Date ? r.billing_start_at : null,
  };
}
