// Re-attach after a tariff switch (layout 2), decided as a pure function. When the billing moves a
// vgroup from internet tariff A to B, its Smotreshka services still sit on A's categories. Each one
// is stopped at T and continued from T on B's category with the same uuid, so the set of
// subscriptions in force never changes and the platform sees nothing; one that B does not offer is
// only stopped. Services on a tariff the vgroup holds through multitarifs (layout 3) are not
// strays and are left alone.
import type { AccountState } from './types.js';
import type { NewService } from './write.js';

/** A switched-on TV services row of the vgroup, with its category's uuid (trimmed, non-empty). */
export interface HeldService {
  serviceId: number;
  tarId: number;
  servCatIdx: number;
  uuid: string;
  timefrom: Date;
  /** null = open-ended */
  timeto: Date | null;
  state: number;
  needCalc: number;
  mul: string;
  personId: number | null;
  comment: string;
  activated: Date | null;
  externalData: string | null;
}

export interface ReattachInput {
  vgId: number;
  /** vgroups.tar_id now: where the services belong */
  tarId: number;
  /** every tariff the vgroup holds (or held) through multitarifs */
  multitariffTarIds: readonly number[];
  /** the vgroup's switched-on TV rows that end after `at`, on any tariff */
  services: readonly HeldService[];
  /** the current tariff's enabled, non-archived categories with a uuid */
  targetCategories: readonly { servCatIdx: number; uuid: string }[];
  at: Date;
}

export interface ReattachPlan {
  /** stop `from` at `closeAt` and insert `to`, its continuation on the current tariff (from
   * closeAt, or from where the current tariff's own rows of that uuid stop covering it) */
  moves: { from: HeldService; closeAt: Date; to: NewService }[];
  /** stop at `closeAt`: the current tariff lacks it, or already carries it for the rest of its time */
  closes: { service: HeldService; closeAt: Date; reason: 'not_offered' | 'already_attached' }[];
}

/** Whole seconds, as the billing stores them. */
function wholeSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

function later(a: Date, b: Date): Date {
  return a.getTime() >= b.getTime() ? a : b;
}

interface Window {
  uuid: string;
  timefrom: Date;
  timeto: Date | null;
}

/** The row covers instant t: it has started by t and not ended. */
function covers(s: Window, t: Date): boolean {
  return s.timefrom.getTime() <= t.getTime() && (s.timeto === null || s.timeto.getTime() > t.getTime());
}

/**
 * The first instant from `t` on at which none of `rows` carries `uuid`: `t` itself when nothing
 * covers it, null when the coverage never ends.
 */
function coveredUntil(rows: readonly Window[], uuid: string, t: Date): Date | null {
  let at = t;
  for (;;) {
    const cover = rows.find((r) => r.uuid === uuid && covers(r, at));
    if (!cover) return at;
    if (cover.timeto === null) return null;
    at = cover.timeto;
  }
}

export function planReattach(input: ReattachInput): ReattachPlan {
  const t = wholeSecond(input.at);
  const multi = new Set(input.multitariffTarIds);
  const plan: ReattachPlan = { moves: [], closes: [] };

  // what the current tariff already carries, growing as moves are planned (two stray rows of one
  // uuid must not become two rows on the new tariff)
  const attached: Window[] = input.services
    .filter((s) => s.tarId === input.tarId)
    .map((s) => ({ uuid: s.uuid, timefrom: s.timefrom, timeto: s.timeto }));

  const targetIdx = new Map<string, number>();
  for (const c of [...input.targetCategories].sort((a, b) => a.servCatIdx - b.servCatIdx)) {
    if (!targetIdx.has(c.uuid)) targetIdx.set(c.uuid, c.servCatIdx);
  }

  const strays = input.services
    .filter((s) => s.tarId !== input.tarId && !multi.has(s.tarId))
    .sort((a, b) => a.timefrom.getTime() - b.timefrom.getTime() || a.serviceId - b.serviceId);

  for (const s of strays) {
    // a row that hasn't started yet moves as a whole: stopped at its own start (never in force)
    const closeAt = later(t, s.timefrom);
    if (s.timeto !== null && s.timeto.getTime() <= closeAt.getTime()) continue; // nothing left to move
    const idx = targetIdx.get(s.uuid);
    if (idx === undefined) {
      plan.closes.push({ service: s, closeAt, reason: 'not_offered' });
      continue;
    }
    // the current tariff may already carry the offer for part of the time (re-attached by hand,
    // or by an earlier stray of the same uuid): continue only from where that coverage ends
    const from = coveredUntil(attached, s.uuid, closeAt);
    if (from === null || (s.timeto !== null && s.timeto.getTime() <= from.getTime())) {
      plan.closes.push({ service: s, closeAt, reason: 'already_attached' });
      continue;
    }
    // the continuation is the same service on another category: same quantity, manager, state,
    // charging and external data, so the billing and other applications see it carry on
    const to: NewService = {
      vgId: input.vgId,
      tarId: input.tarId,
      servCatIdx: idx,
      timefrom: from,
      timeto: s.timeto,
      mul: s.mul,
      personId: s.personId,
      comment: s.comment,
      needCalc: s.needCalc,
      state: s.state,
      activated: s.activated,
      externalData: s.externalData,
    };
    plan.moves.push({ from: s, closeAt, to });
    attached.push({ uuid: s.uuid, timefrom: to.timefrom, timeto: to.timeto });
  }
  return plan;
}

/**
 * Whether an account as the read model loaded it has TV services left on a tariff it no longer
 * has (neither vgroups.tar_id nor a multitarif): the level-triggered test for calling
 * reattachServices. Free (the data is already loaded), and immune to how changes were coalesced:
 * it looks at what the billing holds, not at which event arrived.
 */
export function needsReattach(account: AccountState, at: Date): boolean {
  const multi = new Set(account.multitarifs.map((m) => m.tarId));
  return account.services.some(
    (s) =>
      s.uuid !== null &&
      s.uuid.trim() !== '' &&
      s.tarId !== account.tarId &&
      !multi.has(s.tarId) &&
      s.state !== 0 &&
      s.state !== 2 &&
      s.needCalc !== -1 &&
      (s.timeto === null || s.timeto.getTime() > Math.max(at.getTime(), s.timefrom.getTime())),
  );
}
