// What the simulator was asked to change, in words a test can compare: "enable op_svc-basic 5012",
// "disable ...", "create op_x [100,5010]", "state op_x suspended_manually 35000". Reads are left out.
import type { CallRecord, Simulator } from '../../src/smotreshka/simulator/index.js';

export interface ChangeCall {
  text: string;
  username: string;
  /** when the simulator received it, ms since epoch */
  at: number;
  seq: number;
  status: number;
}

function refOf(path: string, index: number): string {
  return decodeURIComponent(path.split('/')[index] ?? '');
}

export function describeCall(sim: Simulator, c: CallRecord): ChangeCall | null {
  const body = (c.body ?? {}) as Record<string, unknown>;
  const usernameOf = (ref: string) => sim.store.resolve(ref)?.username ?? ref;
  let username: string;
  let text: string;
  switch (c.route) {
    case 'POST /v2/accounts':
      username = String(body.username);
      text = `create ${username} [${((body.purchases as string[] | undefined) ?? []).join(',')}]`;
      break;
    case 'POST /v2/accounts/:id/subscriptions':
      username = usernameOf(refOf(c.path, 3));
      text = `${body.valid ? 'enable' : 'disable'} ${username} ${String(body.id)}`;
      break;
    case 'POST /accounts/v3/:id/account-state':
      username = usernameOf(refOf(c.path, 3));
      text = `state ${username} ${String(body.status)} ${String(body.balance)}`;
      break;
    default:
      if (c.method === 'GET') return null;
      username = '';
      text = `${c.method} ${c.path}`;
  }
  return { text, username, at: c.at, seq: c.seq, status: c.status };
}

/** Changing calls answered after `sinceSeq`, oldest first (successful ones unless `all`). */
export function changeCalls(sim: Simulator, sinceSeq: number, all = false): ChangeCall[] {
  return sim.recorder
    .since(sinceSeq, 1_000_000)
    .calls.map((c) => describeCall(sim, c))
    .filter((c): c is ChangeCall => c !== null && (all || (c.status >= 200 && c.status < 300)));
}

export function lastSeq(sim: Simulator): number {
  return sim.recorder.since(Number.MAX_SAFE_INTEGER, 1).lastSeq;
}

/** Sets an account's subscriptions on the platform as a subscriber or a manager would there. */
export async function setOnPlatform(
  sim: Simulator,
  username: string,
  subscriptions: string[],
): Promise<void> {
  const res = await fetch(`${sim.url}/_simulator/accounts/${encodeURIComponent(username)}/subscriptions`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(subscriptions),
  });
  if (res.status !== 200)
    throw new Error(`the simulator refused the subscriptions of ${username}: ${res.status}`);
}
