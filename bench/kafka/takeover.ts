// Takeover and restart in Debezium mode, with real `run` processes (through tsx) in one consumer
// group on PostgreSQL, for a given capture.kafka.sessionTimeoutMs:
//   takeoverMs:  two instances share the partitions; one is killed with SIGKILL and every account's
//                balance changes at once: from the kill until the platform has every account's new
//                balance (the killed instance's accounts wait for the survivor to take its partitions)
//   restartMs:   the survivor is killed too and started again at once (the dead member is still in
//                the group): from the spawn until it has its partitions ("joined the consumer
//                group" with a non-empty assignment), and until its first change reaches the platform
//   rebalances:  joins the survivor logged beyond the expected ones while the machine is loaded
//                (a false takeover shows as an extra rebalance)
import type { ChildProcess } from 'node:child_process';
import { cli, freePort, type RunChild, writeConfig } from '../../test/support/run-child.js';
import { startDebeziumRig } from './rig.js';

export interface TakeoverResult {
  sessionTimeoutMs: number;
  accounts: number;
  takeoverMs: number;
  restartJoinMs: number;
  restartFirstChangeMs: number;
  survivorJoins: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Log lines of a child that say it joined the group, with their time and partition count. */
function joins(c: RunChild): { time: number; partitions: number }[] {
  return c
    .output()
    .split('\n')
    .filter((l) => l.includes('joined the consumer group'))
    .map((l) => {
      const j = JSON.parse(l) as { time: number; assignment: Record<string, number[]> };
      return { time: j.time, partitions: Object.values(j.assignment).reduce((n, p) => n + p.length, 0) };
    });
}

export async function measureTakeover(sessionTimeoutMs: number, accounts = 300): Promise<TakeoverResult> {
  const rig = await startDebeziumRig('pg', accounts, {
    kafka: { sessionTimeoutMs },
    settings: { TOPIC_PARTITIONS: '4' },
  });
  const children: RunChild[] = [];
  try {
    // the in-process service only set things up: the measured instances are processes
    await rig.service.stop();
    const raw = JSON.parse(JSON.stringify(rig.config)) as Record<string, unknown>;
    const start = async () => {
      const file = writeConfig({
        ...raw,
        listen: `127.0.0.1:${await freePort()}`,
        log: { level: 'info', format: 'json' },
      });
      const c = cli(['run', '--config', file]);
      children.push(c);
      return c;
    };
    const waitJoined = async (c: RunChild, after = 0, timeoutMs = 120_000) => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const j = joins(c).find((x) => x.time >= after && x.partitions > 0);
        if (j) return j.time;
        if (Date.now() > end)
          throw new Error(`no join with partitions within ${timeoutMs} ms:\n${c.output().slice(-2000)}`);
        await sleep(50);
      }
    };
    const balanceEverywhere = async (kopecks: number, since: number, timeoutMs = 120_000) => {
      const ids = rig.accounts.map((a) => a.agrmId);
      for (let i = 0; i < ids.length; i += 500)
        await rig
          .knex('agreements')
          .whereIn('agrm_id', ids.slice(i, i + 500))
          .update({ balance: (kopecks / 100).toFixed(2) });
      const end = Date.now() + timeoutMs;
      for (;;) {
        const { calls } = await rig.calls(since);
        const done = new Map<string, number>();
        let first = Number.POSITIVE_INFINITY;
        for (const c of calls) {
          if (c.route !== 'POST /accounts/v3/:id/account-state' || c.status !== 200) continue;
          if ((c.body as { balance: number }).balance !== kopecks) continue;
          done.set(c.path, c.at);
          first = Math.min(first, c.at);
        }
        if (done.size >= rig.accounts.length) return { last: Math.max(...done.values()), first };
        if (Date.now() > end)
          throw new Error(`${done.size} of ${rig.accounts.length} accounts got balance ${kopecks}`);
        await sleep(100);
      }
    };

    const a = await start();
    const b = await start();
    await waitJoined(a);
    await waitJoined(b);
    // the group settles: both hold partitions after the last rebalance
    for (let i = 0; i < 200; i++) {
      const ja = joins(a).at(-1);
      const jb = joins(b).at(-1);
      if (
        ja &&
        jb &&
        ja.partitions > 0 &&
        jb.partitions > 0 &&
        Date.now() - Math.max(ja.time, jb.time) > 3_000
      )
        break;
      await sleep(100);
    }
    // loaded: changes flow for a while; any join of b now is a false takeover
    const joinsBefore = joins(b).length;
    await balanceEverywhere(910_001, await rig.lastSeq());
    await sleep(Math.max(3 * sessionTimeoutMs, 15_000));
    const survivorJoins = joins(b).length - joinsBefore;

    const seq1 = await rig.lastSeq();
    const tKill = Date.now();
    (a.child as ChildProcess).kill('SIGKILL');
    const took = await balanceEverywhere(910_002, seq1);
    const takeoverMs = took.last - tKill;

    const seq2 = await rig.lastSeq();
    (b.child as ChildProcess).kill('SIGKILL');
    const tSpawn = Date.now();
    const b2 = await start();
    const joined = await waitJoined(b2, tSpawn);
    const flowed = await balanceEverywhere(910_003, seq2);
    return {
      sessionTimeoutMs,
      accounts: rig.accounts.length,
      takeoverMs,
      restartJoinMs: joined - tSpawn,
      restartFirstChangeMs: flowed.first - tSpawn,
      survivorJoins,
    };
  } finally {
    for (const c of children) c.child.kill('SIGKILL');
    await rig.close();
  }
}
