// Properties of the pure sale decision (src/upsale/decide.ts) over generated accounts: pending
// charges only ever take money away, a paid sale fits in what is left, a basic sold leaves exactly
// that basic from its start on, and the ensure-time snapshot refuses exactly when a basic appeared.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AccountState, AssignedService } from '../../src/billing/types.js';
import type { OfferCategory, PendingCharge } from '../../src/billing/upsale-sql.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { decimalToKopecks } from '../../src/reconcile/money.js';
import { closingInstant, decideSale, heldBasics, type SaleInput } from '../../src/upsale/decide.js';
import { ADDITIONALS, accountArb, BASICS, timeArb } from '../reconcile/arbitraries.js';

const OPTS = { usernamePrefix: 'tv-', emailTemplate: '{login}@op.example' };
const HOUR = 3_600_000;

const price = fc.option(
  fc
    .integer({ min: 0, max: 300_000 })
    .map((k) => `${Math.floor(k / 100)}.${String(k % 100).padStart(2, '0')}0000`),
  { nil: null, freq: 8 },
);

const input: fc.Arbitrary<SaleInput> = fc
  .record({
    account: accountArb,
    offerId: fc.constantFrom(...BASICS, ...ADDITIONALS),
    kind: fc.constantFrom<'add' | 'replace'>('add', 'replace'),
    oldOfferId: fc.constantFrom(...BASICS, ...ADDITIONALS),
    trialDays: fc.constantFrom(0, 0, 7),
    offers: fc.array(
      fc.record({
        tarId: fc.constantFrom(10, 11, 30, 31),
        servCatIdx: fc.integer({ min: 0, max: 20 }),
        enabled: fc.boolean(),
        available: fc.boolean(),
        archive: fc.constantFrom(false, false, true),
        price,
      }),
      { minLength: 1, maxLength: 3 },
    ),
    // a charge for one of the account's own rows (which the sale may stop), or for another account's
    pending: fc.array(fc.tuple(fc.integer({ min: 0, max: 200_000 }), fc.option(fc.nat())), { maxLength: 3 }),
    now: timeArb,
    startOffsetHours: fc.constantFrom(0, 0, -5, 30),
    seen: fc.constantFrom<'none' | 'all' | 'empty'>('none', 'all', 'empty'),
  })
  .map((r) => {
    const account: AccountState = { ...r.account, blocked: 0, archive: false };
    account.agreement = { ...account.agreement, state: 0 };
    const serviceType = BASICS.includes(r.offerId) ? 0 : 1;
    const offers = r.offers.map((o): OfferCategory => ({ ...o, uuid: r.offerId, serviceType }));
    const rows = account.services;
    const pending = r.pending.map(
      ([kopecks, own], i): PendingCharge => ({
        serviceId: own !== null && rows.length > 0 ? rows[own % rows.length]!.serviceId : 10_000 + i,
        vgId: account.vgId,
        kopecks,
      }),
    );
    const held = heldBasics(account, r.now, OPTS).map((s) => s.serviceId);
    return {
      account,
      offers,
      pending,
      basicsSeen: r.seen === 'none' ? null : r.seen === 'all' ? held : [],
      request: {
        kind: r.kind,
        newOfferId: r.offerId,
        oldOfferId: r.kind === 'replace' ? r.oldOfferId : null,
        trialDays: r.trialDays,
      },
      now: r.now,
      start: new Date(r.now.getTime() + r.startOffsetHours * HOUR),
      desired: OPTS,
    };
  });

/** The account as it is once the sale is written (what commit does with a 'sell' decision). */
function afterSale(i: SaleInput, close: AssignedService[], offer: OfferCategory): AccountState {
  const account = i.account!;
  const closed = new Set(close.map((s) => s.serviceId));
  const services = account.services.map((s) =>
    closed.has(s.serviceId) ? { ...s, timeto: closingInstant(s, i.start) } : s,
  );
  services.push({
    serviceId: 99_999,
    tarId: offer.tarId,
    servCatIdx: offer.servCatIdx,
    uuid: offer.uuid,
    serviceType: offer.serviceType,
    timefrom: i.start,
    timeto: null,
    state: 1,
    needCalc: 1,
  });
  return { ...account, services };
}

const basicsAt = (a: AccountState, t: Date) =>
  a.services.filter(
    (s) => s.serviceType === 0 && desiredState({ ...a, services: [s] }, t, OPTS).subscriptions.length > 0,
  );

/** Every instant from `from` on at which a row or a multi-tariff window of the account starts. */
const boundaries = (a: AccountState, from: Date) =>
  [from, ...a.services.map((s) => s.timefrom), ...a.multitarifs.map((m) => m.dtfrom)].filter(
    (t) => t.getTime() >= from.getTime(),
  );

describe('the sale decision', () => {
  it('pending charges only take money away: without them a sale still sells', () => {
    fc.assert(
      fc.property(input, (i) => {
        const withPending = decideSale(i);
        if (withPending.result === 'sell') expect(decideSale({ ...i, pending: [] }).result).toBe('sell');
      }),
      { numRuns: 2000 },
    );
  });

  it('a paid sale fits in balance + credit less the pending charges it does not stop at once', () => {
    fc.assert(
      fc.property(input, (i) => {
        const d = decideSale(i);
        if (d.result !== 'sell' || i.request.trialDays > 0) return;
        const a = i.account!.agreement;
        const available = decimalToKopecks(a.balance) + decimalToKopecks(a.credit) - d.pendingKopecks;
        expect(available).toBeGreaterThanOrEqual(decimalToKopecks(d.price));
        // a row this sale stops at once is never charged; everything else still is
        const stoppedNow = new Set(
          d.close
            .filter((s) => closingInstant(s, i.start).getTime() <= i.now.getTime())
            .map((s) => s.serviceId),
        );
        const owed = i.pending.filter((p) => !stoppedNow.has(p.serviceId)).reduce((n, p) => n + p.kopecks, 0);
        expect(d.pendingKopecks).toBe(owed);
      }),
      { numRuns: 2000 },
    );
  });

  it('a basic sold leaves no other basic from its start on, and is in force once sold', () => {
    fc.assert(
      fc.property(input, (i) => {
        const d = decideSale(i);
        if (d.result !== 'sell' || d.offer.serviceType !== 0) return;
        const after = afterSale(i, d.close, d.offer);
        // at every instant from the start on where anything begins: no basic but the one sold...
        for (const t of boundaries(after, i.start)) {
          const others = basicsAt(after, t).filter((s) => s.serviceId !== 99_999);
          expect(others, t.toISOString()).toEqual([]);
        }
        // ...and the one sold is in force when the sale takes effect (its tariff applies now)
        const effective = new Date(Math.max(i.now.getTime(), i.start.getTime()));
        expect(basicsAt(after, effective).map((s) => s.serviceId)).toEqual([99_999]);
      }),
      { numRuns: 3000 },
    );
  });

  it('the snapshot refuses a basic sale exactly when a basic appeared since ensure', () => {
    fc.assert(
      fc.property(input, (i) => {
        const first = decideSale({ ...i, basicsSeen: null });
        // nothing changed since ensure: the same decision as the first ensure's
        const held = heldBasics(i.account!, i.now, OPTS).map((s) => s.serviceId);
        expect(decideSale({ ...i, basicsSeen: held })).toEqual(first);
        // everything held is new: a basic is never sold over it; nothing else changes
        const stale = decideSale({ ...i, basicsSeen: [] });
        if (first.result === 'sell' && first.offer.serviceType === 0 && held.length > 0)
          expect(stale.result).toBe('no_subscription_rules');
        else if (first.result === 'sell') expect(stale).toEqual(first);
        else expect(stale.result).not.toBe('sell');
      }),
      { numRuns: 2000 },
    );
  });
});
