// fast-check generators of billing accounts for the pure core's property tests. Subscription ids
// keep one meaning each (100–102 basic, 5010–5013 additional), as the catalogue does.
import fc from 'fast-check';
import type { AccountState, AssignedService, MultiTariff } from '../../src/billing/types.js';

export const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

export const BASICS = ['100', '101', '102'];
export const ADDITIONALS = ['5010', '5011', '5012', '5013'];

const instant = fc.integer({ min: -48, max: 48 }).map((h) => new Date(T0 + h * HOUR));
const maybeOpen = fc.option(instant, { nil: null, freq: 3 });
const decimal = fc
  .tuple(fc.integer({ min: -99_999, max: 99_999 }), fc.integer({ min: 0, max: 999_999 }))
  .map(([w, f]) => `${w}.${String(f).padStart(6, '0')}`);

const service = (tariffs: number[]) =>
  fc
    .record({
      serviceId: fc.integer({ min: 1, max: 10_000 }),
      tarId: fc.constantFrom(...tariffs),
      servCatIdx: fc.integer({ min: 0, max: 20 }),
      kind: fc.constantFrom('basic', 'additional', 'none', 'missing'),
      pick: fc.nat(),
      timefrom: instant,
      timeto: maybeOpen,
      state: fc.constantFrom(0, 1, 2, 3, 3, 3),
      needCalc: fc.constantFrom(-1, 0, 1, 1, 1),
    })
    .map(({ kind, pick, ...s }): AssignedService => {
      if (kind === 'basic') return { ...s, uuid: BASICS[pick % BASICS.length]!, serviceType: 0 };
      if (kind === 'additional') return { ...s, uuid: ADDITIONALS[pick % ADDITIONALS.length]!, serviceType: 1 };
      if (kind === 'missing') return { ...s, uuid: null, serviceType: null };
      return { ...s, uuid: '', serviceType: 1 };
    });

const multitarif = fc
  .record({ recordId: fc.nat(), tarId: fc.constantFrom(30, 31), dtfrom: instant, dtto: maybeOpen })
  .map((m): MultiTariff => m);

export const accountArb: fc.Arbitrary<AccountState> = fc
  .record({
    vgId: fc.integer({ min: 1, max: 1_000_000 }),
    login: fc.stringMatching(/^[a-z0-9_.-]{1,20}$/),
    tarId: fc.constantFrom(10, 11),
    blocked: fc.constantFrom(0, 0, 0, 1, 2, 3, 4, 5, 10, 7),
    archive: fc.constantFrom(false, false, false, true),
    agreementState: fc.constantFrom(0, 0, 0, 0, 1, 2),
    balance: decimal,
    credit: decimal.map((d) => d.replace('-', '')),
    email: fc.option(fc.constantFrom('A@Example.org', 'bad-email', ' x@y.ru ', ''), { nil: null }),
    multitarifs: fc.array(multitarif, { maxLength: 3 }),
    services: fc.array(service([10, 11, 30, 31]), { maxLength: 8 }),
  })
  .map(
    (r): AccountState => ({
      vgId: r.vgId,
      login: r.login,
      agentId: 1,
      tarId: r.tarId,
      blocked: r.blocked,
      archive: r.archive,
      agreement: { agrmId: r.vgId, number: null, balance: r.balance, credit: r.credit, state: r.agreementState, archive: false },
      card: { uid: r.vgId, name: null, email: r.email, archive: false },
      multitarifs: r.multitarifs,
      services: r.services.map((s, i) => ({ ...s, serviceId: i + 1 })),
    }),
  );

export const timeArb = instant;
