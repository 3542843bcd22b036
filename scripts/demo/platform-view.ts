// What the simulated platform was asked, read through its control API (GET /_simulator/calls and
// /_simulator/accounts) the way an operator would with curl, turned into short lines:
//   enable op_svc-basic 5012   (+14 ms)
import type { CallRecord } from '../../src/smotreshka/simulator/index.js';

export interface SeenCall {
  text: string;
  username: string;
  at: number;
}

export class PlatformView {
  private seq = 0;
  private names = new Map<string, string>();

  constructor(private readonly url: string) {}

  /** Forget everything received so far: the next read starts after it. */
  async skip(): Promise<void> {
    const r = (await (
      await fetch(`${this.url}/_simulator/calls?since=${Number.MAX_SAFE_INTEGER}&limit=1`)
    ).json()) as { lastSeq: number };
    this.seq = r.lastSeq;
  }

  /** The changing calls answered since the last read. */
  async read(): Promise<SeenCall[]> {
    const r = (await (await fetch(`${this.url}/_simulator/calls?since=${this.seq}&limit=10000`)).json()) as {
      calls: CallRecord[];
      lastSeq: number;
    };
    this.seq = r.lastSeq;
    if (r.calls.some((c) => c.method !== 'GET')) await this.loadNames();
    return r.calls.flatMap((c) => {
      const seen = this.describe(c);
      return seen ? [seen] : [];
    });
  }

  /** Waits up to `ms` for calls about `username`, then returns everything read meanwhile. */
  async waitFor(username: string, count: number, ms: number): Promise<SeenCall[]> {
    const out: SeenCall[] = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
      out.push(...(await this.read()));
      if (out.filter((c) => c.username === username).length >= count) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // anything that belongs to the same reconcile arrives within a few ms more
    await new Promise((r) => setTimeout(r, 150));
    out.push(...(await this.read()));
    return out;
  }

  async subscriptions(username: string): Promise<string[]> {
    const r = (await (await fetch(`${this.url}/_simulator/accounts`)).json()) as {
      accounts: { username: string; subscriptions: { id: string }[] | string[] }[];
    };
    const acc = r.accounts.find((a) => a.username === username);
    return (acc?.subscriptions ?? []).map((s) => (typeof s === 'string' ? s : s.id)).sort();
  }

  private async loadNames(): Promise<void> {
    const r = (await (await fetch(`${this.url}/_simulator/accounts`)).json()) as {
      accounts: { id: string; username: string }[];
    };
    for (const a of r.accounts) this.names.set(a.id, a.username);
  }

  private describe(c: CallRecord): SeenCall | null {
    if (c.method === 'GET' || c.status < 200 || c.status >= 300) return null;
    const body = (c.body ?? {}) as Record<string, unknown>;
    const ref = decodeURIComponent(c.path.split('/')[3] ?? '');
    const username = this.names.get(ref) ?? ref;
    switch (c.route) {
      case 'POST /v2/accounts':
        return {
          text: `create ${String(body.username)} with [${((body.purchases as string[]) ?? []).join(', ')}]`,
          username: String(body.username),
          at: c.at,
        };
      case 'POST /v2/accounts/:id/subscriptions':
        return {
          text: `${body.valid ? 'enable ' : 'disable'} ${username} ${String(body.id)}`,
          username,
          at: c.at,
        };
      case 'POST /accounts/v3/:id/account-state':
        return {
          text: `state   ${username} ${String(body.status)}, balance ${(Number(body.balance) / 100).toFixed(2)}${body.tvSuspended ? ', TV suspended' : ''}`,
          username,
          at: c.at,
        };
      default:
        return { text: `${c.method} ${c.path}`, username, at: c.at };
    }
  }
}
