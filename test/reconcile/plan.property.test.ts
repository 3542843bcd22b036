import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { desiredState } from '../../src/reconcile/desired.js';
import { type ActualAccount, planCalls, simulatePlan } from '../../src/reconcile/plan.js';
import { accountArb, ADDITIONALS, BASICS, timeArb } from './arbitraries.js';

const opts = { usernamePrefix: 'lb_', emailTemplate: '{username}@op.users-mail.lfstrm.tv' };
const ALL = [...BASICS, ...ADDITIONALS, '777'];
const catalogueArb = fc.option(fc.subarray(ALL, { minLength: 3 }).map((ids) => new Set(ids)), { nil: null });
const actualArb = fc.option(
  fc.record({ id: fc.constant('5964c533098f6b6123456789'), subscriptions: fc.subarray(ALL) }),
  { nil: null },
);
const lastStateArb = fc.option(
  fc.record({
    balance: fc.integer({ min: -10_000, max: 10_000 }),
    status: fc.constantFrom('active' as const, 'suspended_no_funds' as const, 'other' as const),
    tvSuspended: fc.boolean(),
  }),
  { nil: null },
);

describe('plan (property-based)', () => {
  it('converges: after the plan the platform holds exactly the wanted, known subscriptions', () => {
    fc.assert(
      fc.property(accountArb, timeArb, actualArb, lastStateArb, catalogueArb, (a, t, actual, lastState, catalogue) => {
        const desired = desiredState(a, t, opts);
        const { calls } = planCalls({ desired, actual, lastState, catalogue });
        const after = simulatePlan(actual, calls);
        const wanted = desired.subscriptions.filter((id) => catalogue === null || catalogue.has(id));
        const creatable = desired.entitled && !desired.issues.some((i) => i.kind === 'invalid_username');
        if (actual === null && !creatable) {
          expect(calls).toEqual([]);
        } else {
          expect(after!.subscriptions).toEqual([...wanted].sort());
          const pushes = calls.filter((c) => c.op === 'state');
          expect(pushes.length).toBeLessThanOrEqual(1);
          if (pushes[0]?.op === 'state') expect(pushes[0].state).toEqual(desired.state);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('is idempotent: planning again after applying it asks for nothing', () => {
    fc.assert(
      fc.property(accountArb, timeArb, actualArb, lastStateArb, catalogueArb, (a, t, actual, lastState, catalogue) => {
        const desired = desiredState(a, t, opts);
        const first = planCalls({ desired, actual, lastState, catalogue });
        const after = simulatePlan(actual, first.calls);
        const pushed = first.calls.some((c) => c.op === 'state') ? desired.state : lastState;
        const second = planCalls({ desired, actual: after, lastState: pushed, catalogue });
        expect(second.calls).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });

  it('is minimal: never touches a subscription that is already as wanted, never enables an unknown id', () => {
    fc.assert(
      fc.property(accountArb, timeArb, actualArb, lastStateArb, catalogueArb, (a, t, actual, lastState, catalogue) => {
        const desired = desiredState(a, t, opts);
        const { calls, issues } = planCalls({ desired, actual, lastState, catalogue });
        const have = new Set(actual?.subscriptions ?? []);
        for (const c of calls) {
          if (c.op === 'enable') {
            expect(have.has(c.subscriptionId)).toBe(false);
            expect(catalogue === null || catalogue.has(c.subscriptionId)).toBe(true);
          }
          if (c.op === 'disable') {
            expect(have.has(c.subscriptionId)).toBe(true);
            expect(desired.subscriptions.includes(c.subscriptionId) && (catalogue?.has(c.subscriptionId) ?? true)).toBe(false);
          }
          if (c.op === 'create') expect(actual).toBeNull();
        }
        const unknown = desired.subscriptions.filter((id) => catalogue !== null && !catalogue.has(id));
        expect(issues.map((i) => (i.kind === 'unknown_subscription' ? i.subscriptionId : '')).sort()).toEqual(unknown.sort());
      }),
      { numRuns: 3000 },
    );
  });

  it('orders calls: disables before the state push, the state push before enables', () => {
    fc.assert(
      fc.property(accountArb, timeArb, actualArb, lastStateArb, (a, t, actual, lastState) => {
        const desired = desiredState(a, t, opts);
        const ops = planCalls({ desired, actual, lastState, catalogue: null }).calls.map((c) => c.op);
        const rank = { create: 0, disable: 1, state: 2, enable: 3 } as const;
        const ranks = ops.map((o) => rank[o]);
        if (ops[0] !== 'create') expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
      }),
      { numRuns: 2000 },
    );
  });

  it('a block only disables and pushes state: nothing is created or deleted for it', () => {
    fc.assert(
      fc.property(accountArb, timeArb, lastStateArb, fc.subarray(ALL), (a, t, lastState, subs) => {
        const blocked = { ...a, blocked: 3 };
        const actual: ActualAccount = { id: 'x', subscriptions: subs };
        const { calls } = planCalls({ desired: desiredState(blocked, t, opts), actual, lastState, catalogue: null });
        expect(calls.every((c) => c.op === 'disable' || c.op === 'state')).toBe(true);
        expect(calls.filter((c) => c.op === 'disable').length).toBe(subs.length);
      }),
      { numRuns: 1000 },
    );
  });
});
