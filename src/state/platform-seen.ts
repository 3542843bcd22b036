// The platform scan's memory (<prefix>platform_scans and <prefix>platform_seen, migration 004):
// the numbered periodic scans, and per platform account the changes the last scan that saw it
// left pending. "Seen by two consecutive scans" = the account's row carries the number of the scan
// right before this one, and the change's key is in it.
import type { Knex } from 'knex';
import { isDuplicateKey } from './upsale-journal.js';

/** What one platform account had pending after the last scan that saw it. */
export interface Sighting {
  scanNo: number;
  /** change key → first seen */
  pending: Map<string, Date>;
}

export interface SeenAccount {
  platformId: string;
  vgId: number | null;
  username: string;
  /** empty = nothing pending: the account's row goes */
  pending: ReadonlyMap<string, Date>;
}

export interface ScanSummary {
  complete: boolean;
  accounts: number;
  changing: number;
  suspicious: boolean;
  /** why the scan stopped early, or the list kept for the operator */
  detail: unknown;
}

export interface ScanRecord extends ScanSummary {
  scanNo: number;
  startedAt: Date;
  finishedAt: Date | null;
}

const CHUNK = 500;
/** scans kept in <prefix>platform_scans */
const KEEP_SCANS = 2000;
/** a suspicious scan's list as kept for the operator; `sync --from-platform --dry-run` has it all */
const DETAIL_MAX_CHARS = 1_000_000;

export class PlatformSeenStore {
  readonly scans: string;
  readonly seen: string;

  constructor(
    private readonly knex: Knex,
    prefix: string,
  ) {
    this.scans = `${prefix}platform_scans`;
    this.seen = `${prefix}platform_seen`;
  }

  /** Numbers and records a new scan. Two instances racing for a number: the loser takes the next. */
  async beginScan(at: Date): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const row = await this.knex(this.scans).max({ n: 'scan_no' }).first();
      const scanNo = Number(row?.n ?? 0) + 1;
      try {
        await this.knex(this.scans).insert({
          scan_no: scanNo,
          started_at: at,
          complete: false,
          accounts: 0,
          changing: 0,
          suspicious: false,
        });
        return scanNo;
      } catch (err) {
        if (attempt >= 5 || !isDuplicateKey(err)) throw err;
      }
    }
  }

  async finishScan(scanNo: number, at: Date, s: ScanSummary): Promise<void> {
    let detail = s.detail === null || s.detail === undefined ? null : JSON.stringify(s.detail);
    if (detail !== null && detail.length > DETAIL_MAX_CHARS)
      detail = JSON.stringify({ truncated: true, head: detail.slice(0, DETAIL_MAX_CHARS) });
    await this.knex(this.scans).where({ scan_no: scanNo }).update({
      finished_at: at,
      complete: s.complete,
      accounts: s.accounts,
      changing: s.changing,
      suspicious: s.suspicious,
      detail,
    });
    await this.knex(this.scans)
      .where('scan_no', '<=', scanNo - KEEP_SCANS)
      .delete();
  }

  async lastScans(limit: number): Promise<ScanRecord[]> {
    const rows = await this.knex(this.scans).select('*').orderBy('scan_no', 'desc').limit(limit);
    return rows.map((r) => ({
      scanNo: Number(r.scan_no),
      startedAt: new Date(r.started_at),
      finishedAt: r.finished_at == null ? null : new Date(r.finished_at),
      complete: Boolean(Number(r.complete)),
      accounts: Number(r.accounts),
      changing: Number(r.changing),
      suspicious: Boolean(Number(r.suspicious)),
      detail: r.detail == null ? null : JSON.parse(String(r.detail)),
    }));
  }

  /** The last sighting of each of these platform accounts that left something pending. */
  async previous(platformIds: readonly string[]): Promise<Map<string, Sighting>> {
    const out = new Map<string, Sighting>();
    for (let i = 0; i < platformIds.length; i += CHUNK) {
      const rows = await this.knex(this.seen)
        .select('platform_id', 'pending', 'scan_no')
        .whereIn('platform_id', platformIds.slice(i, i + CHUNK));
      for (const r of rows) {
        const pending = new Map<string, Date>();
        for (const [key, at] of Object.entries(JSON.parse(String(r.pending)) as Record<string, string>))
          pending.set(key, new Date(at));
        out.set(String(r.platform_id), { scanNo: Number(r.scan_no), pending });
      }
    }
    return out;
  }

  /** Records what one scan saw of these accounts (those with nothing pending lose their row). */
  async record(scanNo: number, seenAt: Date, accounts: readonly SeenAccount[]): Promise<void> {
    const withPending = accounts.filter((a) => a.pending.size > 0);
    const settled = accounts.filter((a) => a.pending.size === 0).map((a) => a.platformId);
    for (let i = 0; i < settled.length; i += CHUNK)
      await this.knex(this.seen)
        .whereIn('platform_id', settled.slice(i, i + CHUNK))
        .delete();
    for (let i = 0; i < withPending.length; i += CHUNK) {
      const rows = withPending.slice(i, i + CHUNK).map((a) => ({
        platform_id: a.platformId,
        vg_id: a.vgId,
        username: a.username.slice(0, 128),
        pending: JSON.stringify(Object.fromEntries([...a.pending].map(([k, d]) => [k, d.toISOString()]))),
        scan_no: scanNo,
        seen_at: seenAt,
      }));
      await this.knex(this.seen).insert(rows).onConflict('platform_id').merge();
    }
  }
}
