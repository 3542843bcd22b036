// The decision about changes made on the platform (src/reconcile/platform-changes.ts), property by
// property: it sees exactly the platform's doing, does what the policy says, acts only on a second
// sighting, and what it writes never echoes back through propagation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DesiredAccount } from '../../src/reconcile/desired.js';
import { appliedAfter, planCalls, simulatePlan } from '../../src/reconcile/plan.js';
import {
  type AccountObservation,
  type BillingSide,
  changeKey,
  decidePlatformChanges,
  type OfferedCategory,
  type PlatformChangesPolicy,
  platformSideFor,
} from '../../src/reconcile/platform-changes.js';
import { ADDITIONALS, BASICS } from './arbitraries.js';

const ALL = [...BASICS, ...ADDITIONALS, '777'];
const SEEN_AT = new Date(Date.UTC(2026, 0, 1, 12));
const STATE = { balance: 100, status: 'active' as const, tvSuspended: false };
const SUSPENDED = { balance: 100, status: 'suspended_manually' as const, tvSuspended: true };

const policyArb = fc.constantFrom<PlatformChangesPolicy>('mirror', 'revert', 'report');

/** Categories for some ids on the main tariff (10) and a multi-tariff (30). */
const offersArb = fc
  .array(
    fc.record({
      id: fc.constantFrom(...ALL),
      tarId: fc.constantFrom(10, 30),
      servCatIdx: fc.integer({ min: 1, max: 20 }),
      forSale: fc.boolean(),
    }),
    { maxLength: 12 },
  )
  .map((rows) => {
    const m = new Map<string, OfferedCategory[]>();
    for (const r of rows) {
      const list = m.get(r.id) ?? [];
      list.push({
        tarId: r.tarId,
        servCatIdx: r.servCatIdx,
        basic: BASICS.includes(r.id),
        forSale: r.forSale,
      });
      m.set(r.id, list);
    }
    return m;
  });

const billingArb: fc.Arbitrary<BillingSide> = fc
  .record({ desired: fc.subarray(ALL), suspended: fc.boolean(), offers: offersArb })
  .map(({ desired, suspended, offers }) => ({
    vgId: 7,
    // the core wants nothing while TV is suspended, and one basic at most
    desired: suspended
      ? []
      : desired.filter(
          (id, i, all) => !BASICS.includes(id) || all.findIndex((x) => BASICS.includes(x)) === i,
        ),
    suspended,
    mainTarId: 10,
    offers,
    basics: new Set(BASICS),
  }));

const keyArb = fc.constantFrom(
  ...ALL.flatMap((id) => [changeKey('switched_off', id), changeKey('switched_on', id)]),
);
const previousArb = fc.option(
  fc
    .array(fc.tuple(keyArb, fc.integer({ min: 1, max: 600 })), { maxLength: 10 })
    .map((pairs) => new Map(pairs.map(([k, min]) => [k, new Date(SEEN_AT.getTime() - min * 60_000)]))),
  { nil: null },
);

const observationArb: fc.Arbitrary<AccountObservation> = fc
  .record({
    owner: fc.oneof(
      { weight: 8, arbitrary: billingArb.map((billing) => ({ kind: 'account' as const, billing })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'unknown' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'ambiguous' as const }) },
    ),
    applied: fc.option(fc.subarray(ALL), { nil: null }),
    platform: fc.subarray(ALL),
    previous: previousArb,
  })
  .map((r) => ({ platformId: 'p1', username: 'op_x', seenAt: SEEN_AT, ...r }));

const accountObservationArb = observationArb.filter((o) => o.owner.kind === 'account');

function billingOf(o: AccountObservation): BillingSide {
  if (o.owner.kind !== 'account') throw new Error('not an account');
  return o.owner.billing;
}

/** The core's answer for the billing side: what it wants, and whether it suspends the account's TV. */
function desiredOf(b: BillingSide, subscriptions: readonly string[] = b.desired): DesiredAccount {
  return {
    vgId: 7,
    username: 'op_x',
    email: 'x@example.org',
    entitled: true,
    subscriptions: [...subscriptions].sort(),
    state: b.suspended ? SUSPENDED : STATE,
    nextTransition: null,
    issues: [],
  };
}

const sorted = (xs: Iterable<string>) => [...xs].sort();

describe('platform-side changes (property-based)', () => {
  it("sees exactly the platform's doing: switched off = applied and wanted but gone; switched on = neither wanted nor applied", () => {
    fc.assert(
      fc.property(accountObservationArb, policyArb, (o, policy) => {
        const b = billingOf(o);
        const changes = decidePlatformChanges(o, policy);
        const P = new Set(o.platform);
        const D = new Set(b.desired);
        const A = new Set(o.applied ?? []);
        expect(sorted(changes.filter((c) => c.seen === 'switched_off').map((c) => c.subscriptionId))).toEqual(
          sorted([...A].filter((id) => D.has(id) && !P.has(id))),
        );
        expect(sorted(changes.filter((c) => c.seen === 'switched_on').map((c) => c.subscriptionId))).toEqual(
          sorted([...P].filter((id) => !D.has(id) && !A.has(id))),
        );
        expect(new Set(changes.map((c) => c.key)).size).toBe(changes.length);
      }),
      { numRuns: 3000 },
    );
  });

  it('does what the policy says: report only tells, revert only undoes on the platform, mirror only writes the billing', () => {
    fc.assert(
      fc.property(observationArb, policyArb, (o, policy) => {
        for (const c of decidePlatformChanges(o, policy)) {
          if (o.owner.kind === 'ambiguous' || policy === 'report') expect(c.action).toBe('report');
          else if (policy === 'revert')
            expect(c.action).toBe(c.seen === 'switched_off' ? 'enable' : 'disable');
          else {
            expect(['close', 'assign', 'report']).toContain(c.action);
            if (c.seen === 'switched_off') expect(c.action).toBe('close');
            expect(c.action === 'assign').toBe(c.reason === 'offered');
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('assigns only what the tariffs sell, never while suspended, and never a basic next to another basic', () => {
    fc.assert(
      fc.property(accountObservationArb, (o) => {
        const b = billingOf(o);
        for (const c of decidePlatformChanges(o, 'mirror')) {
          if (c.action !== 'assign') {
            expect(c.category).toBeNull();
            continue;
          }
          expect(b.suspended).toBe(false);
          expect(b.offers.get(c.subscriptionId)).toContainEqual(c.category);
          expect(c.category!.forSale).toBe(true);
          if (BASICS.includes(c.subscriptionId)) {
            expect(o.platform.filter((id) => id !== c.subscriptionId && BASICS.includes(id))).toEqual([]);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("acts on a second sighting only, and keeps the first sighting's time", () => {
    fc.assert(
      fc.property(observationArb, policyArb, (o, policy) => {
        for (const c of decidePlatformChanges(o, policy)) {
          const first = o.previous?.get(c.key);
          expect(c.since).toEqual(first ?? SEEN_AT);
          if (c.due) expect(first).toBeDefined();
          // the one exception: a basic's assign waits for the old basic's close
          if (first !== undefined && !c.due) expect(c.action === 'assign' && c.category?.basic).toBe(true);
        }
        // nothing pending from the scan before: nothing may be acted on
        expect(decidePlatformChanges({ ...o, previous: null }, policy).some((c) => c.due)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('an account the billing does not know: every subscription there is reported, reverted only under revert and only when attributable', () => {
    fc.assert(
      fc.property(
        observationArb.filter((o) => o.owner.kind !== 'account'),
        policyArb,
        (o, policy) => {
          const changes = decidePlatformChanges(o, policy);
          expect(sorted(changes.map((c) => c.subscriptionId))).toEqual(sorted(o.platform));
          const undo = o.owner.kind === 'unknown' && policy === 'revert';
          for (const c of changes) expect(c.action).toBe(undo ? 'disable' : 'report');
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('mirroring writes nothing that echoes: after the billing takes the changes over, propagation makes no new call and the scan finds nothing more to write', () => {
    fc.assert(
      fc.property(accountObservationArb, (o) => {
        const b = billingOf(o);
        const side = platformSideFor('mirror', 'propagate');
        const changes = decidePlatformChanges(o, 'mirror');
        const closed = new Set(changes.filter((c) => c.action === 'close').map((c) => c.subscriptionId));
        const assigned = new Set(changes.filter((c) => c.action === 'assign').map((c) => c.subscriptionId));
        const desiredAfter = sorted([...b.desired.filter((id) => !closed.has(id)), ...assigned]);
        const appliedNow = appliedAfter(desiredAfter, o.applied, o.platform);

        const actual = { id: 'p1', subscriptions: [...o.platform] };
        const before = planCalls({
          desired: desiredOf(b),
          actual,
          lastState: b.suspended ? SUSPENDED : STATE,
          catalogue: null,
          applied: o.applied,
          platformSide: side,
        }).calls;
        const after = planCalls({
          desired: desiredOf(b, desiredAfter),
          actual,
          lastState: b.suspended ? SUSPENDED : STATE,
          catalogue: null,
          applied: appliedNow,
          platformSide: side,
        }).calls;
        const describe = (c: (typeof after)[number]) => JSON.stringify(c);
        expect(after.map(describe).filter((c) => !before.map(describe).includes(c))).toEqual([]);
        for (const c of after)
          if (c.op === 'enable' || c.op === 'disable')
            expect(closed.has(c.subscriptionId) || assigned.has(c.subscriptionId)).toBe(false);

        const again = decidePlatformChanges(
          { ...o, owner: { kind: 'account', billing: { ...b, desired: desiredAfter } }, applied: appliedNow },
          'mirror',
        );
        expect(again.filter((c) => c.action === 'close' || c.action === 'assign')).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });

  it('reverting converges: after the platform calls the scan finds nothing left', () => {
    fc.assert(
      fc.property(
        observationArb.filter((o) => o.owner.kind !== 'ambiguous'),
        (o) => {
          const changes = decidePlatformChanges(o, 'revert');
          const p = new Set(o.platform);
          for (const c of changes) {
            if (c.action === 'enable') p.add(c.subscriptionId);
            if (c.action === 'disable') p.delete(c.subscriptionId);
          }
          expect(decidePlatformChanges({ ...o, platform: sorted(p) }, 'revert')).toEqual([]);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('propagation never undoes a platform-side change unless the policy is revert or the account is suspended; sync restores only what was switched off', () => {
    fc.assert(
      fc.property(accountObservationArb, policyArb, (o, policy) => {
        const b = billingOf(o);
        const changes = decidePlatformChanges(o, policy);
        const actual = { id: 'p1', subscriptions: [...o.platform] };
        for (const purpose of ['propagate', 'sync'] as const) {
          const { calls } = planCalls({
            desired: desiredOf(b),
            actual,
            lastState: b.suspended ? SUSPENDED : STATE,
            catalogue: null,
            applied: o.applied,
            platformSide: platformSideFor(policy, purpose),
          });
          const touched = new Map(
            calls.flatMap((c) =>
              c.op === 'enable' || c.op === 'disable' ? [[c.subscriptionId, c.op] as const] : [],
            ),
          );
          for (const c of changes) {
            const call = touched.get(c.subscriptionId);
            // a block stops all TV, whoever switched it on
            if (policy === 'revert' || c.reason === 'suspended')
              expect(call).toBe(c.seen === 'switched_off' ? 'enable' : 'disable');
            else if (purpose === 'sync' && c.seen === 'switched_off') expect(call).toBe('enable');
            else expect(call).toBeUndefined();
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('a propagation run between two scans keeps every pending platform-side change visible to the next scan', () => {
    fc.assert(
      fc.property(
        accountObservationArb,
        fc.constantFrom<PlatformChangesPolicy>('mirror', 'report'),
        (o, policy) => {
          const b = billingOf(o);
          const actual = { id: 'p1', subscriptions: [...o.platform] };
          const { calls } = planCalls({
            desired: desiredOf(b),
            actual,
            lastState: b.suspended ? SUSPENDED : STATE,
            catalogue: null,
            applied: o.applied,
            platformSide: platformSideFor(policy, 'propagate'),
          });
          const platformAfter = simulatePlan(actual, calls)!.subscriptions;
          const appliedNow = appliedAfter(b.desired, o.applied, platformAfter);
          const keys = (x: AccountObservation) => sorted(decidePlatformChanges(x, policy).map((c) => c.key));
          // a suspended account's platform is emptied by the block itself: nothing stays pending
          expect(keys({ ...o, platform: platformAfter, applied: appliedNow })).toEqual(
            b.suspended ? [] : keys(o),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });
});
