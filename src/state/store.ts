// The service's own tables (see migrations/): the one place their SQL lives.
import type { Knex } from 'knex';
import type { AccountStatePush } from '../smotreshka/types.js';

export interface AccountRecord {
  vgId: number;
  platformId: string | null;
  username: string;
  /** subscriptions as last applied/seen on the platform; null = never known */
  subscriptions: string[] | null;
  /** the account state last pushed; null = never pushed */
  state: AccountStatePush | null;
  stateTs: number | null;
  nextAt: Date | null;
}

export interface ParkedAccount {
  vgId: number;
  reason: string;
  detail: string;
  source: string | null;
  attempts: number;
  firstAt: Date;
  lastAt: Date;
}

const CHUNK = 1000;

export class StateStore {
  readonly accounts: string;
  readonly parked: string;

  constructor(
    private readonly knex: Knex,
    prefix: string,
  ) {
    this.accounts = `${prefix}accounts`;
    this.parked = `${prefix}parked`;
  }

  async get(vgId: number): Promise<AccountRecord | null> {
    return (await this.getMany([vgId])).get(vgId) ?? null;
  }

  async getMany(vgIds: number[]): Promise<Map<number, AccountRecord>> {
    const out = new Map<number, AccountRecord>();
    for (let i = 0; i < vgIds.length; i += CHUNK) {
      const rows = await this.knex(this.accounts).whereIn('vg_id', vgIds.slice(i, i + CHUNK));
      for (const r of rows) out.set(Number(r.vg_id), fromRow(r));
    }
    return out;
  }

  /** The records mapped to these platform account ids (the platform scan's way in), by platform id. */
  async byPlatformIds(platformIds: string[]): Promise<Map<string, AccountRecord>> {
    const out = new Map<string, AccountRecord>();
    const ids = [...new Set(platformIds)];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.knex(this.accounts).whereIn('platform_id', ids.slice(i, i + CHUNK));
      // reconciling never maps a second vg_id to a platform account (shared usernames are parked);
      // should a hand-edited table hold two, the lowest vg_id wins, deterministically
      for (const r of rows.sort((x, y) => Number(y.vg_id) - Number(x.vg_id))) out.set(String(r.platform_id), fromRow(r));
    }
    return out;
  }

  async save(records: AccountRecord[]): Promise<void> {
    if (records.length === 0) return;
    const now = new Date();
    for (let i = 0; i < records.length; i += CHUNK) {
      const rows = records.slice(i, i + CHUNK).map((r) => ({
        vg_id: r.vgId,
        platform_id: r.platformId,
        username: r.username,
        subscriptions: r.subscriptions === null ? null : JSON.stringify(r.subscriptions),
        account_state: r.state === null ? null : JSON.stringify(r.state),
        state_ts: r.stateTs,
        next_at: r.nextAt,
        updated_at: now,
      }));
      await this.knex(this.accounts).insert(rows).onConflict('vg_id').merge();
    }
  }

  /** Another vg_id already mapped to this platform account, if any. */
  async ownerOf(platformId: string, exceptVgId: number): Promise<number | null> {
    const row = await this.knex(this.accounts).select('vg_id').where({ platform_id: platformId }).whereNot({ vg_id: exceptVgId }).first();
    return row ? Number(row.vg_id) : null;
  }

  /** Accounts whose timer is due at `at` (issue: services that start or expire by time). */
  async due(at: Date, limit: number): Promise<number[]> {
    const rows = await this.knex(this.accounts).select('vg_id').where('next_at', '<=', at).orderBy('next_at').limit(limit);
    return rows.map((r) => Number(r.vg_id));
  }

  async nextTimer(): Promise<Date | null> {
    const row = await this.knex(this.accounts).min({ at: 'next_at' }).first();
    return row?.at ? new Date(row.at) : null;
  }

  async park(vgId: number, reason: string, detail: string, source: string | null = null): Promise<void> {
    const now = new Date();
    await this.knex.transaction(async (trx) => {
      const updated = await trx(this.parked)
        .where({ vg_id: vgId })
        .update({ reason, detail: detail.slice(0, 4000), source, last_at: now, attempts: trx.raw('attempts + 1') });
      if (updated === 0) {
        await trx(this.parked)
          .insert({ vg_id: vgId, reason, detail: detail.slice(0, 4000), source, attempts: 1, first_at: now, last_at: now })
          .onConflict('vg_id')
          .merge(['reason', 'detail', 'source', 'last_at']);
      }
    });
  }

  async unpark(vgIds: number[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < vgIds.length; i += CHUNK) {
      n += await this.knex(this.parked).whereIn('vg_id', vgIds.slice(i, i + CHUNK)).delete();
    }
    return n;
  }

  async listParked(limit = 1000): Promise<ParkedAccount[]> {
    const rows = await this.knex(this.parked).select('*').orderBy('last_at', 'desc').limit(limit);
    return rows.map((r) => ({
      vgId: Number(r.vg_id),
      reason: r.reason,
      detail: r.detail,
      source: r.source ?? null,
      attempts: Number(r.attempts),
      firstAt: new Date(r.first_at),
      lastAt: new Date(r.last_at),
    }));
  }

  async parkedIds(): Promise<Set<number>> {
    const rows = await this.knex(this.parked).select('vg_id');
    return new Set(rows.map((r) => Number(r.vg_id)));
  }
}

function fromRow(r: Record<string, unknown>): AccountRecord {
  return {
    vgId: Number(r.vg_id),
    platformId: (r.platform_id as string | null) ?? null,
    username: String(r.username),
    subscriptions: r.subscriptions == null ? null : (JSON.parse(String(r.subscriptions)) as string[]),
    state: r.account_state == null ? null : (JSON.parse(String(r.account_state)) as AccountStatePush),
    stateTs: r.state_ts == null ? null : Number(r.state_ts),
    nextAt: r.next_at == null ? null : new Date(r.next_at as string | Date),
  };
}
