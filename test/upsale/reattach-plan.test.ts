// planReattach, the pure decision behind re-attach on a tariff switch: examples of each rule and a
// property over random holdings — the subscriptions in force never change at or after T except
// for offers the new tariff lacks, history before T is untouched, and planning again after
// applying the plan finds nothing to do.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type HeldService,
  needsReattach,
  planReattach,
  type ReattachInput,
  type ReattachPlan,
} from '../../src/billing/reattach-plan.js';
import type { AccountState } from '../../src/billing/types.js';

const T = new Date('2026-06-15T12:00:00Z');
const A = 20;
const B = 21;
const MULTI = 30;
const min = (m: number) => new Date(T.getTime() + m * 60_000);

let nextId = 1;
function held(
  tarId: number,
  uuid: string,
  from: number,
  to: number | null = null,
  extra: Partial<HeldService> = {},
): HeldService {
  return {
    serviceId: nextId++,
    tarId,
    servCatIdx: Number(uuid) % 97,
    uuid,
    timefrom: min(from),
    timeto: to === null ? null : min(to),
    state: 3,
    needCalc: 1,
    mul: '1.000000',
    personId: null,
    comment: '',
    activated: min(from),
    externalData: null,
    ...extra,
  };
}

const B_OFFERS = [
  { servCatIdx: 11, uuid: '100' },
  { servCatIdx: 12, uuid: '101' },
  { servCatIdx: 21, uuid: '5010' },
];

function input(services: HeldService[], extra: Partial<ReattachInput> = {}): ReattachInput {
  return {
    vgId: 7,
    tarId: B,
    multitariffTarIds: [MULTI],
    services,
    targetCategories: B_OFFERS,
    at: T,
    ...extra,
  };
}

describe('planReattach', () => {
  it('continues each service of the old tariff on the new one at T, keeping everything but the category', () => {
    const basic = held(A, '101', -90 * 1440, null, {
      personId: 5,
      comment: 'by manager',
      externalData: 'crm:42',
      mul: '2.000000',
    });
    const extra = held(A, '5010', -10, 60 * 24);
    const plan = planReattach(input([basic, extra], { at: new Date(T.getTime() + 789) }));
    expect(plan.closes).toEqual([]);
    expect(
      plan.moves.map((m) => [
        m.from.serviceId,
        m.closeAt.toISOString(),
        m.to.servCatIdx,
        m.to.timefrom.toISOString(),
      ]),
    ).toEqual([
      [basic.serviceId, T.toISOString(), 12, T.toISOString()],
      [extra.serviceId, T.toISOString(), 21, T.toISOString()],
    ]);
    expect(plan.moves[0]!.to).toEqual({
      vgId: 7,
      tarId: B,
      servCatIdx: 12,
      timefrom: T,
      timeto: null,
      mul: '2.000000',
      personId: 5,
      comment: 'by manager',
      needCalc: 1,
      state: 3,
      activated: basic.activated,
      externalData: 'crm:42',
    });
    expect(plan.moves[1]!.to.timeto).toEqual(min(60 * 24));
  });

  it('stops what the new tariff does not offer', () => {
    const film = held(A, '5013', -100);
    expect(planReattach(input([film])).closes).toEqual([
      { service: film, closeAt: T, reason: 'not_offered' },
    ]);
  });

  it('only stops a stray the new tariff already carries (re-attached by hand)', () => {
    const stray = held(A, '100', -100);
    const onB = held(B, '100', -30);
    const plan = planReattach(input([stray, onB]));
    expect(plan).toEqual({ moves: [], closes: [{ service: stray, closeAt: T, reason: 'already_attached' }] });
  });

  it('leaves services on multi-tariffs (layout 3) and on the current tariff alone', () => {
    expect(planReattach(input([held(MULTI, '100', -100), held(B, '5010', -100)]))).toEqual({
      moves: [],
      closes: [],
    });
  });

  it('moves a service that has not started yet as a whole, stopping the old row at its own start', () => {
    const later = held(A, '5010', 3 * 1440, 10 * 1440);
    const [move] = planReattach(input([later])).moves;
    expect(move!.closeAt).toEqual(later.timefrom);
    expect([move!.to.timefrom, move!.to.timeto]).toEqual([later.timefrom, later.timeto]);
  });

  it('ignores rows that end by T, and rows already stopped at their start', () => {
    expect(planReattach(input([held(A, '100', -100, 0), held(A, '101', 50, 50)]))).toEqual({
      moves: [],
      closes: [],
    });
  });

  it('two stray rows of one offer give one continuation', () => {
    const plan = planReattach(input([held(A, '5010', -100), held(A, '5010', -50)]));
    expect(plan.moves).toHaveLength(1);
    expect(plan.closes.map((c) => c.reason)).toEqual(['already_attached']);
  });
});

// ── property ────────────────────────────────────────────────────────────────────────────────────

const TARIFFS = [A, B, MULTI, 40];
const UUIDS = ['100', '101', '5010', '5013'];

const holding = fc.array(
  fc
    .record({
      tarId: fc.constantFrom(...TARIFFS),
      uuid: fc.constantFrom(...UUIDS),
      from: fc.integer({ min: -300, max: 300 }),
      length: fc.option(fc.integer({ min: 0, max: 600 }), { nil: null }),
    })
    .map((r) => held(r.tarId, r.uuid, r.from, r.length === null ? null : r.from + r.length)),
  { maxLength: 8 },
);

/** Applies a plan the way reattach.ts does: close, then insert the continuation. */
function apply(services: HeldService[], plan: ReattachPlan): HeldService[] {
  const closeAt = new Map<number, Date>();
  for (const m of plan.moves) closeAt.set(m.from.serviceId, m.closeAt);
  for (const c of plan.closes) closeAt.set(c.service.serviceId, c.closeAt);
  const out = services.map((s) =>
    closeAt.has(s.serviceId) ? { ...s, timeto: closeAt.get(s.serviceId)! } : s,
  );
  for (const m of plan.moves) out.push({ ...m.from, ...m.to, serviceId: nextId++, uuid: m.from.uuid });
  return out;
}

const covers = (s: HeldService, t: Date) => s.timefrom <= t && (s.timeto === null || s.timeto > t);
const inForce = (rows: HeldService[], t: Date) =>
  [...new Set(rows.filter((s) => covers(s, t)).map((s) => s.uuid))].sort();

describe('planReattach (property)', () => {
  it('keeps what is in force from T on (minus what the new tariff lacks), keeps history, and is idempotent', () => {
    fc.assert(
      fc.property(holding, (services) => {
        const plan = planReattach(input(services));
        const after = apply(services, plan);
        const offered = new Set(B_OFFERS.map((c) => c.uuid));
        const isStray = (s: HeldService) => s.tarId !== B && s.tarId !== MULTI;
        for (let m = -400; m <= 1000; m += 10) {
          const t = min(m);
          if (m < 0) {
            expect(inForce(after, t)).toEqual(inForce(services, t));
          } else {
            const expected = inForce(
              services.filter((s) => !isStray(s) || offered.has(s.uuid)),
              t,
            );
            expect(inForce(after, t)).toEqual(expected);
          }
        }
        for (const s of after)
          if (s.timeto) expect(s.timeto.getTime()).toBeGreaterThanOrEqual(s.timefrom.getTime());
        const stillToDo = planReattach(input(after.filter((s) => s.timeto === null || s.timeto > T)));
        expect(stillToDo).toEqual({ moves: [], closes: [] });
      }),
      { numRuns: 500 },
    );
  });
});

/** The account as the read model would load it, holding `services`, on tariff B with the multi-tariff. */
function accountHolding(services: HeldService[]): AccountState {
  return {
    vgId: 7,
    login: 'x',
    agentId: 1,
    tarId: B,
    blocked: 0,
    archive: false,
    agreement: { agrmId: 1, number: null, balance: '0.000000', credit: '0.000000', state: 0, archive: false },
    card: { uid: 1, name: null, email: null, archive: false },
    multitarifs: [{ recordId: 1, tarId: MULTI, dtfrom: new Date(0), dtto: null }],
    services: services.map((s) => ({
      serviceId: s.serviceId,
      tarId: s.tarId,
      servCatIdx: s.servCatIdx,
      uuid: s.uuid,
      serviceType: 1,
      timefrom: s.timefrom,
      timeto: s.timeto,
      state: s.state,
      needCalc: s.needCalc,
    })),
  };
}

describe('needsReattach', () => {
  it('is true exactly when planReattach has something to do', () => {
    fc.assert(
      fc.property(holding, (services) => {
        const live = services.filter((s) => s.timeto === null || s.timeto > T); // what reattach.ts reads
        const plan = planReattach(input(live));
        expect(needsReattach(accountHolding(services), T)).toBe(plan.moves.length + plan.closes.length > 0);
      }),
      { numRuns: 500 },
    );
  });

  it('ignores switched-off and deleted rows', () => {
    const off = held(A, '100', -10, null, { state: 2 });
    const deleted = held(A, '101', -10, null, { needCalc: -1 });
    expect(needsReattach(accountHolding([off, deleted]), T)).toBe(false);
    expect(needsReattach(accountHolding([held(A, '100', -10)]), T)).toBe(true);
  });
});
