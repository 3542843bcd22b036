// The sync report as an operator reads it on a terminal: discrepancies grouped by which side holds
// what the other lacks, then a summary line.
import type { Direction, Discrepancy } from '../reconcile/discrepancy.js';
import type { SyncReport } from '../reconcile/sync.js';

const TITLES: Record<Direction, string> = {
  billing_only: 'In the billing, not on the platform',
  platform_only: 'On the platform, not in the billing',
  platform_side: 'Changed on the platform itself (platform → billing: the platform scan, `sync --from-platform`)',
  mapping: 'Mapping errors',
  conflict: 'Conflicts in the billing',
  error: 'Errors',
};

export function renderReport(r: SyncReport): string {
  const out: string[] = [];
  const groups = new Map<Direction, Discrepancy[]>();
  for (const d of r.remaining) groups.set(d.direction, [...(groups.get(d.direction) ?? []), d]);
  for (const dir of Object.keys(TITLES) as Direction[]) {
    const rows = groups.get(dir);
    if (!rows?.length) continue;
    out.push(`${TITLES[dir]} (${rows.length}):`);
    out.push(table(rows.map((d) => [d.vgId === null ? '-' : String(d.vgId), d.username, d.kind, d.detail]), ['vg_id', 'username', 'kind', 'detail']));
    out.push('');
  }
  if (r.remaining.length < r.remainingCount) out.push(`… and ${r.remainingCount - r.remaining.length} more (use --json for all)`, '');
  const c = r.calls;
  const verb = r.dryRun ? 'dry run, nothing changed' : `${r.changed} changed (create ${c.create}, enable ${c.enable}, disable ${c.disable}, state ${c.state})`;
  out.push(
    `${r.accounts} accounts checked, ${r.differing} differed; ${verb}; ` +
      `${r.remainingCount} discrepancies remain, ${r.errors} errors, ${r.parked} parked; ${(r.durationMs / 1000).toFixed(1)} s`,
  );
  return `${out.join('\n')}\n`;
}

export function table(rows: string[][], head: string[]): string {
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.min(60, Math.max(...all.map((r) => (r[i] ?? '').length))));
  const line = (r: string[]) =>
    r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}
