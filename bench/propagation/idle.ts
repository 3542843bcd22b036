// What the trigger-mode reader costs while the billing is quiet: the service's CPU (this process:
// the service runs in it, the simulator doesn't) over a few idle seconds, as a share of one core,
// and how often it looked at the change log meanwhile. Nothing else runs in this process then.
import type { Rig } from './rig.js';

export interface IdleResult {
  seconds: number;
  /** CPU time of the service's process / wall time, in % of one core */
  cpuPercentOfOneCore: number;
  /** change-log looks per second (null when the reader doesn't count them) */
  looksPerSecond: number | null;
}

export async function measureIdle(rig: Rig, seconds = 10): Promise<IdleResult> {
  // let the last work (an earlier measurement) finish and the reader settle into its idle pace
  await new Promise((r) => setTimeout(r, 2_000));
  const looks = () => (rig.service.reader.stats() as { looks?: number }).looks;
  const looks0 = looks();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const looks1 = looks();
  return {
    seconds,
    cpuPercentOfOneCore: Number((((cpu.user + cpu.system) / 1000 / wallMs) * 100).toFixed(2)),
    looksPerSecond:
      looks0 === undefined || looks1 === undefined
        ? null
        : Number(((looks1 - looks0) / (wallMs / 1000)).toFixed(1)),
  };
}
