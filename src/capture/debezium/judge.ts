// Is the Debezium connector capturing? Pure: from what Kafka Connect says about the connector and
// its tasks, how long since its heartbeat last reached Kafka, and what was done about it so far,
// the problems `/health` names and whether to restart failed tasks now.
//
// - A missing connector, or a connector or task FAILED, PAUSED, STOPPED, UNASSIGNED (or none
//   at all), is a problem naming it, with its root cause when Connect gives a trace.
// - FAILED ones are restarted (only the leader does it) with back-off: at once, then 10 s, 20 s,
//   40 s, then every 60 s. A restart only counts as a cure once everything has run for
//   STABLE_MS: a task that fails again a second after each restart is still one episode. After
//   REPEATED restarts the problem says so and what to do; the restarts go on, so that the
//   connector heals by itself once its cause is gone.
// - RUNNING but silent: Debezium retries some errors inside a RUNNING task (PostgreSQL without
//   the REPLICATION privilege does, every 10 s, for ever). Its heartbeat then stops reaching Kafka,
//   so a heartbeat older than `staleMs` is a problem too.
import { BINLOG_LOST_ADVICE, binlogPositionLost, rootCause } from './cause.js';
import type { ConnectorState } from './connect.js';

export const STABLE_MS = 60_000;
export const REPEATED = 3;
const FIRST_DELAY_MS = 10_000;
const MAX_DELAY_MS = 60_000;

/** Restart n+1 comes this long after restart n (n counted from 0). */
export function restartDelayMs(restartsSoFar: number): number {
  if (restartsSoFar === 0) return 0;
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (restartsSoFar - 1));
}

export interface Observation {
  name: string;
  connectUrl: string;
  /** null = not registered; a string = Connect did not answer (the message) */
  status: ConnectorState | null | string;
  /** ms since the heartbeat topic last grew; null when unknown (not read yet, or Kafka didn't answer) */
  heartbeatAgeMs: number | null;
  heartbeatTopic: string;
  staleMs: number;
  /** the instance may restart tasks (the leader) */
  mayRestart: boolean;
  /** MySQL/MariaDB: the binlog file of the connector's recorded position, seen purged from the server */
  purgedBinlog?: string | null;
}

/** What the watch remembers between observations. */
export interface Episode {
  /** when the current failure was first seen; null while healthy */
  failingSince: number | null;
  /** the last time a failure was seen (metric) */
  lastFailureAt: number | null;
  restarts: number;
  lastRestartAt: number | null;
  /** everything RUNNING since (for the STABLE_MS rule) */
  runningSince: number | null;
  /** the last root cause logged, so that each is logged once */
  cause: string | null;
}

export const freshEpisode = (): Episode => ({
  failingSince: null,
  lastFailureAt: null,
  restarts: 0,
  lastRestartAt: null,
  runningSince: null,
  cause: null,
});

export interface Verdict {
  problems: string[];
  /** restart the connector's failed instances now */
  restart: boolean;
  /** a root cause seen for the first time in this episode (to log once) */
  newCause: string | null;
  /** the full trace behind it (debug log) */
  trace: string | null;
  episode: Episode;
}

export function judge(o: Observation, before: Episode, now: number): Verdict {
  const e: Episode = { ...before };
  const problems: string[] = [];
  let failed: { what: string; trace?: string } | null = null;
  const manual = `POST ${o.connectUrl}/connectors/${o.name}/restart?includeTasks=true&onlyFailed=true`;

  if (typeof o.status === 'string') {
    problems.push(`Kafka Connect: ${o.status}`);
  } else if (o.status === null) {
    problems.push(
      `connector ${o.name} is not registered on ${o.connectUrl}: run \`lbcore-lifestream migrate\``,
    );
  } else {
    const s = o.status;
    if (s.connector === 'FAILED') failed = { what: 'connector', trace: s.connectorTrace };
    else {
      const t = s.tasks.find((x) => x.state === 'FAILED');
      if (t) failed = { what: `task ${t.id}`, trace: t.trace };
    }
    const states = `${s.connector}, tasks ${s.tasks.map((t) => `${t.id}:${t.state}`).join(',') || 'none'}`;
    const running =
      s.connector === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING');
    if (failed) {
      // judged below
    } else if (!running) {
      const paused = [s.connector, ...s.tasks.map((t) => t.state)].some(
        (x) => x === 'PAUSED' || x === 'STOPPED',
      );
      problems.push(
        `connector ${o.name} is not running (${states})${
          paused ? `: resume it (PUT ${o.connectUrl}/connectors/${o.name}/resume)` : ''
        }`,
      );
    } else if (o.heartbeatAgeMs !== null && o.heartbeatAgeMs > o.staleMs) {
      problems.push(
        `connector ${o.name} is RUNNING but no heartbeat reached ${o.heartbeatTopic} for ${Math.round(o.heartbeatAgeMs / 1000)} s: ` +
          "the task is not streaming (it may be retrying an error: see the Connect worker's log, e.g. the database user lost its REPLICATION privilege)",
      );
    }
    if (running) e.runningSince ??= now;
    else e.runningSince = null;
  }

  if (o.purgedBinlog)
    problems.push(
      `connector ${o.name}: its recorded binlog position (${o.purgedBinlog}) was purged from the server: changes may be lost: run \`sync --all\`, ` +
        'then let the connector start afresh from now (see the README runbook "lost binlog position")',
    );

  let restart = false;
  let newCause: string | null = null;
  if (failed) {
    e.failingSince ??= now;
    e.lastFailureAt = now;
    const cause = rootCause(failed.trace) ?? "no trace: see the Connect worker's log";
    if (cause !== e.cause) newCause = cause;
    e.cause = cause;
    const lost = binlogPositionLost(failed.trace);
    let line = `connector ${o.name}: ${failed.what} FAILED: ${cause}`;
    if (lost) line += `. ${BINLOG_LOST_ADVICE}`;
    if (e.restarts >= REPEATED)
      line += `. Restarted ${e.restarts} times since ${new Date(e.failingSince).toISOString()} and still failing: fix the cause (it heals by itself at the next restart, every ${MAX_DELAY_MS / 1000} s) or restart it by hand: ${manual}`;
    else if (!o.mayRestart) line += ' (the leading instance restarts it)';
    problems.push(line);
    const due = e.lastRestartAt === null || now - e.lastRestartAt >= restartDelayMs(e.restarts);
    if (o.mayRestart && due) {
      restart = true;
      e.restarts++;
      e.lastRestartAt = now;
    }
  } else if (e.runningSince !== null && now - e.runningSince >= STABLE_MS) {
    // healthy long enough: the next failure is a new episode
    e.failingSince = null;
    e.restarts = 0;
    e.lastRestartAt = null;
    e.cause = null;
  }
  return { problems, restart, newCause, trace: failed?.trace ?? null, episode: e };
}
