import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { desiredState } from '../../src/reconcile/desired.js';
import { type ActualAccount, appliedAfter, CONVERGE_ALL, planCalls, simulatePlan } from '../../src/reconcile/plan.js';
import { platformSideFor } from '../../src/reconcile/platform-changes.js';
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

const appliedArb = fc.option(fc.subarray(ALL), { nil: null });
const sideArb = fc.constantFrom(
  { name: 'propagate (mirror/report)', side: platformSideFor('mirror', 'propagate') },
  { name: 'sync (mirror/report)', side: platformSideFor('report', 'sync') },
  { name: 'revert', side: CONVERGE_ALL },
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

  it('leaves changes made on the platform to the scan unless reverting: the managed set converges, the rest is untouched', () => {
    fc.assert(
      fc.property(accountArb, timeArb, actualArb, lastStateArb, catalogueArb, appliedArb, sideArb, (a, t, actual, lastState, catalogue, applied, { side }) => {
        fc.pre(actual !== null);
        const desired = desiredState(a, t, opts);
        const { calls } = planCalls({ desired, actual, lastState, catalogue, applied, platformSide: side });
        const after = new Set(simulatePlan(actual, calls)!.subscriptions);
        const have = new Set(actual!.subscriptions);
        const mine = new Set(applied ?? []);
        const wanted = desired.subscriptions.filter((id) => catalogue === null || catalogue.has(id));
        const switchedOn = [...have].filter((id) => !desired.subscriptions.includes(id) && !mine.has(id));
        const switchedOff = wanted.filter((id) => mine.has(id) && !have.has(id));
        // switched on there: kept unless reverting, or unless the billing suspends the account's TV
        for (const id of switchedOn) expect(after.has(id)).toBe(side.keepSwitchedOn && !desired.state.tvSuspended);
        // switched off there: restored unless propagation leaves it to the scan
        for (const id of switchedOff) expect(after.has(id)).toBe(!side.keepSwitchedOff);
        // the rest converges: every other wanted id is there, every other unwanted id is gone
        for (const id of wanted) if (!switchedOff.includes(id)) expect(after.has(id)).toBe(true);
        for (const id of after) expect(wanted.includes(id) || switchedOn.includes(id)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('is idempotent in every mode with the applied set it records', () => {
    fc.assert(
      fc.property(accountArb, timeArb, actualArb, lastStateArb, catalogueArb, appliedArb, sideArb, (a, t, actual, lastState, catalogue, applied, { side }) => {
        const desired = desiredState(a, t, opts);
        const first = planCalls({ desired, actual, lastState, catalogue, applied, platformSide: side });
        const after = simulatePlan(actual, first.calls);
        const pushed = first.calls.some((c) => c.op === 'state') ? desired.state : lastState;
        const recorded = after === null ? applied : appliedAfter(desired.subscriptions, applied, after.subscriptions);
        const second = planCalls({ desired, actual: after, lastState: pushed, catalogue, applied: recorded, platformSide: side });
        expect(second.calls).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });

  it('records as applied only what the billing wants or what was applied before, never a subscription switched on there', () => {
    fc.assert(
      fc.property(fc.subarray(ALL), appliedArb, fc.subarray(ALL), (desired, applied, platform) => {
        const recorded = appliedAfter(desired, applied, platform);
        for (const id of recorded) expect(desired.includes(id) || (applied ?? []).includes(id)).toBe(true);
        for (const id of recorded) expect(platform.includes(id) || (desired.includes(id) && (applied ?? []).includes(id))).toBe(true);
        for (const id of desired) if (platform.includes(id)) expect(recorded).toContain(id);
        expect(recorded).toEqual([...recorded].sort());
      }),
      { numRuns: 2000 },
    );
  });
});
