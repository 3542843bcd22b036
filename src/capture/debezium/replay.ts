// Replay: moves the service's consumer group back to the first change at or after a point in time,
// so that the next `run` reads every change since then again and reconciles the accounts they
// name. Harmless to overdo: reconciling is level-triggered, so an account that is already right
// costs a read and no platform call.
//
// The group itself is rewound (not a separate replay group): the changes then go through the one
// path they always take, and nothing has to run beside `run` or be cleaned up afterwards. Kafka
// only lets a group's offsets be set while it has no members, and a member would overwrite them
// with its own at its next commit anyway, so replay refuses while any `run` is in the group.
//
// Offsets only ever move back. Where the group's committed offset is already before the target (it
// hasn't read that far yet), it stays: moving it forward would skip changes never handled. Where the
// group has no committed offset, it starts from the beginning of the topic anyway (the consumer is
// configured so), which already includes everything since the point in time.
import type { StreamAdmin } from './kafka.js';

export interface ReplayPartition {
  topic: string;
  partition: number;
  /** the group's committed offset (the next record it reads); null = none, it starts at the beginning */
  current: string | null;
  /** where the group will read from after the replay */
  target: string;
  /** first offset still in the topic: records before it are gone (retention) */
  low: string;
  /** the offset the next record will get */
  high: string;
  /** records the group will read again (or for the first time) after the replay, from target to high */
  toRead: number;
  /** records already read that will be read again */
  again: number;
  /** the records at the point in time are gone: the replay starts later than asked */
  truncated: boolean;
  /** the offset is set (false: it stays as it is) */
  changes: boolean;
}

export class ReplayRefused extends Error {
  override name = 'ReplayRefused';
}

const big = (s: string) => BigInt(s);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** What a replay since `sinceMs` would do to each partition of `topics`; changes nothing. */
export async function planReplay(
  admin: StreamAdmin,
  groupId: string,
  topics: string[],
  sinceMs: number,
): Promise<ReplayPartition[]> {
  const existing = await admin.existingTopics();
  const out: ReplayPartition[] = [];
  for (const topic of topics.filter((t) => existing.has(t))) {
    const [ends, committed, at] = await Promise.all([
      admin.offsets(topic),
      admin.committed(groupId, topic),
      admin.offsetsAt(topic, sinceMs),
    ]);
    for (const { partition, low, high } of ends) {
      const current = committed.get(partition) ?? null;
      const lo = big(low);
      const hi = big(high);
      // Kafka answers the first offset with a timestamp >= since, or the high watermark if none
      const atTime = max(lo, min(hi, big(at.get(partition) ?? high)));
      const cur = current === null ? null : min(hi, big(current));
      const target = cur === null ? lo : min(cur, atTime);
      out.push({
        topic,
        partition,
        current,
        target: String(target),
        low,
        high,
        toRead: Number(hi - target),
        again: cur === null ? 0 : Number(cur - target),
        // records were deleted from the start and the first one left is already at or after `since`
        truncated: lo > 0n && atTime === lo,
        changes: cur !== null && target !== cur,
      });
    }
  }
  return out;
}

/** Sets the planned offsets; refuses while the group has members. */
export async function applyReplay(
  admin: StreamAdmin,
  groupId: string,
  plan: ReplayPartition[],
): Promise<void> {
  const group = await admin.group(groupId);
  if (group.members.length > 0) {
    const who = group.members.map((m) => `${m.clientId}@${m.host.replace(/^\//, '')}`).join(', ');
    throw new ReplayRefused(
      `consumer group "${groupId}" has ${group.members.length} active member(s) (${who}): stop every \`run\` of this billing ` +
        'in debezium mode first (they share the group), replay, then start them again; they read from the new offsets',
    );
  }
  const byTopic = new Map<string, Map<number, string>>();
  for (const p of plan.filter((x) => x.changes)) {
    const m = byTopic.get(p.topic) ?? new Map<number, string>();
    m.set(p.partition, p.target);
    byTopic.set(p.topic, m);
  }
  for (const [topic, offsets] of byTopic) await admin.setOffsets(groupId, topic, offsets);
}

/** The plan as an operator reads it. */
export function renderReplay(plan: ReplayPartition[], groupId: string, since: Date, dryRun: boolean): string {
  const rows = plan.map((p) => [
    `${p.topic}/${p.partition}`,
    p.current ?? '(none)',
    p.changes ? p.target : p.current === null ? `${p.target} (from the start)` : `${p.target} (unchanged)`,
    String(p.again),
    String(p.toRead),
  ]);
  const head = ['topic/partition', 'current', 'target', 'read again', 'to read'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [
    `consumer group "${groupId}": replay since ${since.toISOString()}`,
    line(head),
    ...rows.map(line),
  ];
  const again = plan.reduce((n, p) => n + p.again, 0);
  const toRead = plan.reduce((n, p) => n + p.toRead, 0);
  const truncated = plan.filter((p) => p.truncated);
  if (truncated.length) {
    out.push(
      `warning: ${truncated.map((p) => `${p.topic}/${p.partition}`).join(', ')} no longer hold(s) records from that time ` +
        '(retention): changes before the first record left are gone; run `sync --all` to be sure',
    );
  }
  out.push(
    `${again} message(s) read again, ${toRead} to read in all${dryRun ? ' (dry run: nothing changed)' : ''}`,
  );
  return `${out.join('\n')}\n`;
}
