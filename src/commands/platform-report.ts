// The platform scan's report as an operator reads it (`sync --from-platform`): per account, what
// was changed on the platform and what the policy does about it, then a summary line.
import { describeChange, type ScanReport } from '../reconcile/platform-scan.js';
import { table } from './report.js';

export function renderScanReport(r: ScanReport): string {
  const out: string[] = [];
  const rows = r.found.flatMap((f) =>
    f.changes.map((c) => [f.vgId === null ? '-' : String(f.vgId), f.username, describeChange(c)]),
  );
  if (rows.length > 0) {
    out.push(`Changed on the platform itself (${r.found.length} accounts, policy ${r.policy}):`);
    out.push(table(rows, ['vg_id', 'username', 'change']));
    out.push('');
  }
  if (r.stopped)
    out.push(
      `Reading stopped at page ${r.stopped.page}: ${r.stopped.reason}. Accounts from there on were not compared.`,
      '',
    );
  for (const e of r.errors)
    out.push(`Error: ${e.username}${e.vgId === null ? '' : ` (vg_id ${e.vgId})`}: ${e.message}`);
  if (r.errors.length) out.push('');
  const w = r.written;
  const verb =
    r.mode === 'dry-run'
      ? 'dry run, nothing changed'
      : `${w.accounts} accounts changed (billing: closed ${w.closed}, assigned ${w.assigned}; platform: enabled ${w.enabled}, disabled ${w.disabled})`;
  out.push(
    `${r.accounts} platform accounts compared${r.complete ? '' : ' (not all: see above)'}, ${r.found.length} with platform-side changes, ` +
      `${r.changing} to act on; ${verb}; ${r.errors.length} errors; ${(r.durationMs / 1000).toFixed(1)} s`,
  );
  return `${out.join('\n')}\n`;
}
