// What a Kafka Connect task trace means for an operator, in one line. Pure.
//
// A failed Debezium task's `trace` is a Java stack trace: the exception Connect caught ("Error
// while fetching ...", "An exception occurred in the change event producer") with the one that
// matters twenty lines down as the first `Caused by:`. That line is what `run` logs and `/health`
// shows; the full trace goes to the log at debug level only.
//
// A MySQL/MariaDB connector whose recorded binlog position the server has purged (or whose GTIDs
// it no longer has) can't resume: the changes written in between are gone from the stream. With
// `snapshot.mode: no_data` nothing fills the gap, so it is named for what it is.

/** The first `Caused by:` of a Java trace without the exception class prefix noise, else its first line. */
export function rootCause(trace: string | undefined | null): string | null {
  if (!trace) return null;
  const lines = trace.split('\n').map((l) => l.trim());
  const caused = lines.find((l) => l.startsWith('Caused by:'));
  const line = (caused ? caused.slice('Caused by:'.length) : (lines.find((l) => l.length > 0) ?? '')).trim();
  return line.length > 400 ? `${line.slice(0, 400)}…` : line || null;
}

const BINLOG_LOST = [
  'is no longer available on the server',
  'Last recorded offset is no longer available',
  'has purged required binary logs',
  'Could not find first log file name in binary log index file',
  'GTIDs needed to replicate have been already purged',
  'ER_MASTER_HAS_PURGED_REQUIRED_GTIDS',
  'server has purged some binlogs',
];

/** True when a trace says the connector's binlog position (or its GTIDs) is gone from the server. */
export function binlogPositionLost(trace: string | undefined | null): boolean {
  if (!trace) return false;
  return BINLOG_LOST.some((marker) => trace.includes(marker));
}

export const BINLOG_LOST_ADVICE =
  'the binlog position the connector recorded is no longer on the server: changes may be lost: run `sync --all`, ' +
  'then let the connector start afresh from now (see the README runbook "lost binlog position")';

/**
 * The binlog file a MySQL/MariaDB connector's committed offset names, when the server no longer
 * has it (purged while the connector was stopped or failing); null when it is there or unknown.
 */
export function purgedOffsetFile(
  offsets: readonly Record<string, unknown>[] | null,
  serverFiles: readonly string[] | null,
): string | null {
  if (!offsets || !serverFiles || serverFiles.length === 0) return null;
  for (const o of offsets) {
    const file = typeof o.file === 'string' ? o.file : null;
    if (file && !serverFiles.includes(file)) return file;
  }
  return null;
}
