// `run` watches the Debezium connector on Kafka Connect (the pure rules are judge.ts): every
// capture.connect.watchIntervalMs it reads the connector's and tasks' state and whether the
// heartbeat topic grew, restarts failed tasks (the leader only), logs each new root cause once
// (the full trace at debug level), and keeps a snapshot for /health and /metrics. On PostgreSQL it
// also reads how much WAL the replication slot holds back.
//
// The heartbeat is read from Kafka, not from this instance's partitions: with several instances
// only one holds the heartbeat topic's partition, but every one of them must be able to tell that
// the connector stopped streaming. So the watch asks for the topic's end offsets and notes when
// they last moved: PostgreSQL's heartbeat table topic (one row per heartbeat, through the WAL, so
// it grows only while the slot streams), MySQL/MariaDB's Debezium heartbeat topic.
import type { Logger } from '../../log.js';
import { purgedOffsetFile } from './cause.js';
import type { ConnectClient, ConnectorState } from './connect.js';
import { type Episode, freshEpisode, judge } from './judge.js';
import type { StreamAdmin } from './kafka.js';

export interface SlotRetention {
  slot: string;
  /** bytes of WAL between the server's current position and what the slot still needs */
  retainedBytes: number | null;
  /** pg_replication_slots.wal_status: reserved, extended, unreserved, lost */
  walStatus: string | null;
}

export interface WatchSnapshot {
  connector: string;
  /** null before the first look */
  checkedAt: Date | null;
  state: string | null;
  tasks: { id: number; state: string }[];
  lastFailureAt: Date | null;
  restarts: number;
  restartsTotal: number;
  cause: string | null;
  heartbeat: { topic: string; ageMs: number | null; staleAfterMs: number };
  slot: (SlotRetention & { warnBytes: number }) | null;
  problems: string[];
}

export interface WatchDeps {
  connect: ConnectClient;
  name: string;
  admin: StreamAdmin;
  /** where the connector's heartbeats land: any of them growing means it streams */
  heartbeatTopics: string[];
  staleMs: number;
  intervalMs: number;
  mayRestart: () => boolean;
  /** MySQL/MariaDB: the binlog files the server still has (null: may not list them) */
  binlogFiles?: () => Promise<string[] | null>;
  /**
   * MySQL/MariaDB: where the server writes its binlog now (null: may not read it). Debezium there
   * emits a heartbeat only when a binlog event arrives, so on a quiet server a silent heartbeat is
   * expected: it counts as stalled only once the server wrote to its binlog after the last one.
   */
  binlogPosition?: () => Promise<string | null>;
  /** PostgreSQL: the slot's retention (by its name from the connector's config) */
  slotRetention?: (slot: string) => Promise<SlotRetention | null>;
  warnRetainedBytes: number;
  logger: Logger;
  /** secrets to scrub from traces */
  scrub: (text: string) => string;
}

export class ConnectorWatch {
  private episode: Episode = freshEpisode();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private restartsTotal = 0;
  /** heartbeat topic end offsets at the last change, and when that was */
  private watermark: { sum: bigint; at: number } | null = null;
  private slotName: string | null = null;
  private last: WatchSnapshot;

  constructor(private readonly deps: WatchDeps) {
    this.last = {
      connector: deps.name,
      checkedAt: null,
      state: null,
      tasks: [],
      lastFailureAt: null,
      restarts: 0,
      restartsTotal: 0,
      cause: null,
      heartbeat: { topic: deps.heartbeatTopics.join(', '), ageMs: null, staleAfterMs: deps.staleMs },
      slot: null,
      problems: [],
    };
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await this.deps.admin.close();
  }

  snapshot(): WatchSnapshot {
    return this.last;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.poll()
        .then(() => undefined)
        .catch((err: Error) => this.deps.logger.warn({ err: err.message }, 'connector watch: check failed'))
        .finally(() => {
          this.running = null;
          this.schedule(this.deps.intervalMs);
        });
    }, ms);
  }

  /** One look: exported for tests through `pollOnce`. */
  async poll(now = Date.now()): Promise<WatchSnapshot> {
    const { deps } = this;
    let status = await deps.connect.status(deps.name).catch((err: Error) => err.message);
    if (status === null && (await deps.connect.connectorConfig(deps.name).catch(() => null)) !== null) {
      // registered, but its status isn't written yet (a task restarting, a worker rebalancing)
      status = this.lastStatus ?? { connector: 'UNASSIGNED', tasks: [] };
    }
    if (typeof status === 'object' && status !== null) this.lastStatus = status;
    const heartbeatAgeMs = await this.heartbeatAge(now);
    const unansweredMs = await this.unanswered(now, heartbeatAgeMs);
    await this.checkBinlog();
    const v = judge(
      {
        name: deps.name,
        connectUrl: deps.connect.url,
        status,
        heartbeatAgeMs: unansweredMs,
        heartbeatTopic: deps.heartbeatTopics.join(' or '),
        staleMs: deps.staleMs,
        mayRestart: deps.mayRestart(),
        purgedBinlog: this.purged,
      },
      this.episode,
      now,
    );
    const wasFailing = this.episode.failingSince !== null;
    this.episode = v.episode;
    if (v.newCause) {
      deps.logger.error({ connector: deps.name, cause: deps.scrub(v.newCause) }, 'Debezium connector failed');
      if (v.trace)
        deps.logger.debug({ connector: deps.name, trace: deps.scrub(v.trace) }, 'Debezium connector trace');
    }
    if (v.restart) {
      this.restartsTotal++;
      deps.logger.warn(
        { connector: deps.name, restart: v.episode.restarts },
        'restarting the failed connector tasks',
      );
      await deps.connect
        .restartFailed(deps.name)
        .catch((err: Error) =>
          deps.logger.warn({ connector: deps.name, err: err.message }, 'restarting the connector failed'),
        );
    }
    if (wasFailing && v.episode.failingSince === null)
      deps.logger.info({ connector: deps.name }, 'Debezium connector running again');
    const slot = typeof status === 'object' && status !== null ? await this.slot(now) : this.last.slot;
    const problems = v.problems.map(deps.scrub);
    if (slot?.walStatus === 'lost')
      problems.push(
        `replication slot ${slot.slot} lost WAL it still needed (max_slot_wal_keep_size): changes may be lost: run \`sync --all\``,
      );
    this.logChanges(problems);
    this.last = {
      connector: deps.name,
      checkedAt: new Date(now),
      state:
        typeof status === 'object' && status !== null
          ? status.connector
          : typeof status === 'string'
            ? 'UNREACHABLE'
            : 'MISSING',
      tasks:
        typeof status === 'object' && status !== null
          ? status.tasks.map((t) => ({ id: t.id, state: t.state }))
          : [],
      lastFailureAt: v.episode.lastFailureAt === null ? null : new Date(v.episode.lastFailureAt),
      restarts: v.episode.restarts,
      restartsTotal: this.restartsTotal,
      cause: v.episode.cause === null ? null : deps.scrub(v.episode.cause),
      heartbeat: {
        topic: deps.heartbeatTopics.join(', '),
        ageMs: heartbeatAgeMs,
        staleAfterMs: deps.staleMs,
      },
      slot: slot ? { ...slot, warnBytes: deps.warnRetainedBytes } : null,
      problems,
    };
    return this.last;
  }

  /** ms since any of the heartbeat topics' end offsets last moved (counted from the first look). */
  private async heartbeatAge(now: number): Promise<number | null> {
    let sum = 0n;
    let read = 0;
    for (const topic of this.deps.heartbeatTopics) {
      try {
        const offsets = await this.deps.admin.offsets(topic);
        sum += offsets.reduce((n, p) => n + BigInt(p.high), 0n);
        read++;
      } catch (err) {
        // Debezium creates its heartbeat topic with the first heartbeat: not there yet counts as 0
        if (/does not host this topic-partition|not exist|UNKNOWN_TOPIC/i.test((err as Error).message))
          read++;
      }
    }
    if (read === 0) return null;
    if (this.watermark === null || sum !== this.watermark.sum) this.watermark = { sum, at: now };
    return now - this.watermark.at;
  }

  private async slot(now: number): Promise<SlotRetention | null> {
    const read = this.deps.slotRetention;
    if (!read) return null;
    try {
      this.slotName ??= (await this.deps.connect.connectorConfig(this.deps.name))?.['slot.name'] ?? null;
      if (!this.slotName) return null;
      const r = await read(this.slotName);
      if (r?.retainedBytes !== null && r !== null && r.retainedBytes > this.deps.warnRetainedBytes) {
        // once a minute at most: it grows slowly and the metric has the figure
        if (now - (this.warnedAt ?? 0) >= 60_000) {
          this.warnedAt = now;
          this.deps.logger.warn(
            {
              slot: r.slot,
              retainedMb: Math.round(r.retainedBytes / 2 ** 20),
              warnMb: Math.round(this.deps.warnRetainedBytes / 2 ** 20),
            },
            'the replication slot holds back more WAL than capture.connect.retainedWalWarnMb',
          );
        }
      }
      return r;
    } catch {
      return this.last.slot;
    }
  }

  private warnedAt: number | null = null;
  /**
   * The purged binlog file the connector's position once pointed at. Kept until `run` restarts:
   * the connector may move on to the server's current file by itself, and the changes in between
   * stay lost until `sync --all` (the runbook says to restart `run` after it).
   */
  private purged: string | null = null;

  /** binlog position at the last look, and when the server first wrote after the last heartbeat */
  private serverPosition: string | null = null;
  private movedSinceBeat: number | null = null;

  /** The heartbeat's age as far as it means a stall: on MySQL/MariaDB only while the server wrote meanwhile. */
  private async unanswered(now: number, ageMs: number | null): Promise<number | null> {
    if (!this.deps.binlogPosition || ageMs === null) return ageMs;
    const position = await this.deps.binlogPosition().catch(() => null);
    if (position === null) return ageMs; // may not read it: the plain age
    const beatAt = now - ageMs;
    // a write seen in the same look as the heartbeat after it counts as answered
    if (this.movedSinceBeat !== null && this.movedSinceBeat <= beatAt) this.movedSinceBeat = null;
    if (this.serverPosition !== null && position !== this.serverPosition) this.movedSinceBeat ??= now;
    this.serverPosition = position;
    return this.movedSinceBeat === null ? 0 : now - this.movedSinceBeat;
  }

  private async checkBinlog(): Promise<void> {
    if (!this.deps.binlogFiles || this.purged) return;
    try {
      const offsets = await this.deps.connect.sourceOffsets(this.deps.name);
      const found = purgedOffsetFile(offsets, await this.deps.binlogFiles());
      if (found) {
        this.purged = found;
        this.deps.logger.error(
          { connector: this.deps.name, binlog: found },
          'the binlog position of the connector was purged from the server: changes may be lost: run `sync --all`',
        );
      }
    } catch {
      // Connect or the database unreachable: the other checks say so
    }
  }
  /** the problems logged last, figures left out (a growing "for 16 s" is the same problem) */
  private logged = new Set<string>();

  /** Each new problem once as a warning (FAILED causes are logged above as errors), and the all-clear. */
  private logChanges(problems: string[]): void {
    const key = (p: string) => p.replace(/\d+/g, '#');
    const now = new Set(problems.map(key));
    for (const p of problems)
      if (!this.logged.has(key(p)) && !p.includes(' FAILED'))
        this.deps.logger.warn({ connector: this.deps.name, problem: p }, 'Debezium capture problem');
    if (this.logged.size > 0 && now.size === 0)
      this.deps.logger.info({ connector: this.deps.name }, 'Debezium capture healthy again');
    this.logged = now;
  }
  private lastStatus: ConnectorState | null = null;
}
