import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AccountState } from '../../src/billing/types.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { accountArb, BASICS, timeArb } from './arbitraries.js';

const opts = { usernamePrefix: 'lb_', emailTemplate: '{username}@op.users-mail.lfstrm.tv' };

/** A second, deliberately naive statement of the rules, to check the real one against. */
function oracleEntitled(a: AccountState, t: Date): string[] {
  const ms = t.getTime();
  const applies = (tar: number) => {
    if (tar === a.tarId) return true;
    const ws = a.multitarifs.filter((m) => m.tarId === tar);
    return ws.length === 0 || ws.some((m) => m.dtfrom.getTime() <= ms && (m.dtto === null || ms < m.dtto.getTime()));
  };
  const live = a.services.filter(
    (s) =>
      s.uuid &&
      s.serviceType !== null &&
      ![0, 2].includes(s.state) &&
      s.needCalc !== -1 &&
      s.timefrom.getTime() <= ms &&
      (s.timeto === null || ms < s.timeto.getTime()) &&
      applies(s.tarId),
  );
  const basics = live
    .filter((s) => s.serviceType === 0)
    .sort((x, y) => y.timefrom.getTime() - x.timefrom.getTime() || y.serviceId - x.serviceId);
  const ids = new Set(live.filter((s) => s.serviceType !== 0).map((s) => s.uuid!));
  if (basics[0]) ids.add(basics[0].uuid!);
  return [...ids].sort();
}

describe('desired state (property-based)', () => {
  it('enables exactly what the rules say, and nothing while suspended', () => {
    fc.assert(
      fc.property(accountArb, timeArb, (a, t) => {
        const d = desiredState(a, t, opts);
        const entitled = oracleEntitled(a, t);
        expect(d.subscriptions).toEqual(d.state.tvSuspended ? [] : entitled);
        const removed = a.archive || a.agreement.state !== 0;
        expect(d.entitled).toBe(entitled.length > 0 && !removed);
      }),
      { numRuns: 2000 },
    );
  });

  it('never enables more than one basic subscription', () => {
    fc.assert(
      fc.property(accountArb, timeArb, (a, t) => {
        const d = desiredState(a, t, opts);
        expect(d.subscriptions.filter((id) => BASICS.includes(id)).length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 2000 },
    );
  });

  it('shows active exactly when the account is unblocked and not removed; suspended otherwise', () => {
    fc.assert(
      fc.property(accountArb, timeArb, (a, t) => {
        const d = desiredState(a, t, opts);
        const live = !a.archive && a.agreement.state === 0 && a.blocked === 0;
        expect(d.state.status === 'active').toBe(live);
        expect(d.state.tvSuspended).toBe(!live);
        if (d.state.tvSuspended) expect(d.state.status).not.toBe('active');
      }),
      { numRuns: 1000 },
    );
  });

  it('does not change before its next transition', () => {
    fc.assert(
      fc.property(accountArb, timeArb, fc.double({ min: 0, max: 1, noNaN: true }), (a, t, frac) => {
        const d = desiredState(a, t, opts);
        const horizon = d.nextTransition ? d.nextTransition.getTime() : t.getTime() + 1000 * 3_600_000;
        expect(horizon).toBeGreaterThan(t.getTime());
        const later = new Date(t.getTime() + Math.floor((horizon - t.getTime() - 1) * frac));
        const d2 = desiredState(a, later, opts);
        expect(d2.subscriptions).toEqual(d.subscriptions);
        expect(d2.state).toEqual(d.state);
        expect(d2.entitled).toBe(d.entitled);
      }),
      { numRuns: 2000 },
    );
  });

  it('reports two basics in force with distinct ids, and keeps the one the rule picks', () => {
    fc.assert(
      fc.property(accountArb, timeArb, (a, t) => {
        const d = desiredState(a, t, opts);
        const conflict = d.issues.find((i) => i.kind === 'two_basics');
        const basicIds = new Set(
          oracleEntitledBasics(a, t).map((s) => s.uuid),
        );
        expect(conflict !== undefined).toBe(basicIds.size > 1);
      }),
      { numRuns: 1000 },
    );
  });

  it('always yields a lower-case email and an integer balance', () => {
    fc.assert(
      fc.property(accountArb, timeArb, (a, t) => {
        const d = desiredState(a, t, opts);
        expect(d.email).toBe(d.email.toLowerCase());
        expect(d.email).toMatch(/^[^\s@]+@[^\s@]+$/);
        expect(Number.isInteger(d.state.balance)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

function oracleEntitledBasics(a: AccountState, t: Date) {
  const ms = t.getTime();
  return a.services.filter((s) => {
    if (!s.uuid || s.serviceType !== 0 || [0, 2].includes(s.state) || s.needCalc === -1) return false;
    if (s.timefrom.getTime() > ms || (s.timeto !== null && ms >= s.timeto.getTime())) return false;
    if (s.tarId === a.tarId) return true;
    const ws = a.multitarifs.filter((m) => m.tarId === s.tarId);
    return ws.length === 0 || ws.some((m) => m.dtfrom.getTime() <= ms && (m.dtto === null || ms < m.dtto.getTime()));
  });
}
