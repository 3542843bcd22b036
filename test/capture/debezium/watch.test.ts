// The connector watch's shell (watch.ts) around the rules of judge.ts, with a fake Kafka Connect
// and a fake Kafka admin: it restarts a FAILED task only on the leader, logs each root cause once
// in one line (the trace at debug level, passwords scrubbed), tells a heartbeat topic that stopped
// growing, and a registered connector whose status is missing for a moment is not "not registered".
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ConnectClient, ConnectorState } from '../../../src/capture/debezium/connect.js';
import type { StreamAdmin } from '../../../src/capture/debezium/kafka.js';
import { ConnectorWatch } from '../../../src/capture/debezium/watch.js';

const SECRET = 'hunter2-pw';
const TRACE = `X: outer\n\tat a.b\nCaused by: java.sql.SQLException: Access denied for cdc (password ${SECRET})\n\tat c.d\n`;

function rig(opts: { leader?: boolean; binlog?: boolean } = {}) {
  let position = 'binlog.000001:100';
  let status: ConnectorState | null = { connector: 'RUNNING', tasks: [{ id: 0, state: 'RUNNING' }] };
  let registered = true;
  let high = 0;
  const restarts: string[] = [];
  const lines: { level: number; msg: string; cause?: string; trace?: string }[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    }),
  );
  const connect = {
    url: 'http://connect:8083',
    status: async () => status,
    connectorConfig: async () => (registered ? { 'slot.name': 's' } : null),
    restartFailed: async (name: string) => {
      restarts.push(name);
    },
  } as unknown as ConnectClient;
  const admin = {
    offsets: async () => [{ partition: 0, low: '0', high: String(high) }],
    close: async () => undefined,
  } as unknown as StreamAdmin;
  const watch = new ConnectorWatch({
    connect,
    name: 'c1',
    admin,
    heartbeatTopics: ['__debezium-heartbeat.p'],
    staleMs: 15_000,
    intervalMs: 1_000,
    mayRestart: () => opts.leader ?? true,
    binlogPosition: opts.binlog ? async () => position : undefined,
    warnRetainedBytes: 1,
    logger,
    scrub: (t) => t.split(SECRET).join('***'),
  });
  return {
    watch,
    restarts,
    lines,
    set: (s: ConnectorState | null, reg = true) => {
      status = s;
      registered = reg;
    },
    beat: () => {
      high++;
    },
    write: () => {
      position = `binlog.000001:${Number(position.split(':')[1]) + 50}`;
    },
  };
}

const failed: ConnectorState = { connector: 'RUNNING', tasks: [{ id: 0, state: 'FAILED', trace: TRACE }] };

describe('ConnectorWatch', () => {
  it('a FAILED task: restarted with back-off, its cause logged once in one line, scrubbed', async () => {
    const r = rig();
    r.set(failed);
    for (const t of [0, 5_000, 10_000, 15_000, 30_000]) await r.watch.poll(t);
    expect(r.restarts).toEqual(['c1', 'c1', 'c1']); // at 0, 10 s, 30 s
    const errors = r.lines.filter((l) => l.msg === 'Debezium connector failed');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.cause).toBe('java.sql.SQLException: Access denied for cdc (password ***)');
    const traces = r.lines.filter((l) => l.msg === 'Debezium connector trace');
    expect(traces[0]!.level).toBe(20);
    expect(JSON.stringify(r.lines)).not.toContain(SECRET);
    const snap = r.watch.snapshot();
    expect(snap).toMatchObject({ state: 'RUNNING', restartsTotal: 3, tasks: [{ id: 0, state: 'FAILED' }] });
    expect(snap.lastFailureAt?.getTime()).toBe(30_000);
    expect(snap.problems[0]).toContain('task 0 FAILED');
    expect(snap.problems[0]).not.toContain(SECRET);
  });

  it('a standby never restarts', async () => {
    const r = rig({ leader: false });
    r.set(failed);
    await r.watch.poll(0);
    await r.watch.poll(60_000);
    expect(r.restarts).toEqual([]);
  });

  it('RUNNING with a heartbeat topic that stopped growing is a problem; growing again clears it', async () => {
    const r = rig();
    await r.watch.poll(0);
    r.beat();
    await r.watch.poll(5_000);
    expect((await r.watch.poll(19_000)).problems).toEqual([]);
    expect((await r.watch.poll(21_000)).problems[0]).toMatch(
      /RUNNING but no heartbeat reached __debezium-heartbeat.p for 16 s/,
    );
    await r.watch.poll(23_000);
    r.beat();
    expect((await r.watch.poll(24_000)).problems).toEqual([]);
    // logged once when it began (not again as the seconds grow), and once when it ended
    expect(r.lines.filter((l) => l.msg === 'Debezium capture problem')).toHaveLength(1);
    expect(r.lines.filter((l) => l.msg === 'Debezium capture healthy again')).toHaveLength(1);
  });

  it('MySQL/MariaDB: a quiet server sends no heartbeat and that is fine; a write left unanswered is a stall', async () => {
    const r = rig({ binlog: true });
    await r.watch.poll(0);
    r.beat();
    await r.watch.poll(1_000);
    // an hour without a write and without a heartbeat
    expect((await r.watch.poll(3_600_000)).problems).toEqual([]);
    // a write, answered by a heartbeat
    r.write();
    r.beat();
    await r.watch.poll(3_601_000);
    expect((await r.watch.poll(3_700_000)).problems).toEqual([]);
    // a write nobody answers
    r.write();
    await r.watch.poll(3_701_000);
    expect((await r.watch.poll(3_710_000)).problems).toEqual([]);
    expect((await r.watch.poll(3_717_000)).problems[0]).toMatch(
      /RUNNING but no heartbeat reached .* for 16 s/,
    );
  });

  it('a registered connector without a status for a moment keeps its last state; an unregistered one is reported', async () => {
    const r = rig();
    await r.watch.poll(0);
    r.set(null, true);
    expect((await r.watch.poll(1_000)).problems).toEqual([]);
    r.set(null, false);
    expect((await r.watch.poll(2_000)).problems[0]).toMatch(/c1 is not registered on http:\/\/connect:8083/);
  });
});
