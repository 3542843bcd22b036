import { describe, expect, it } from 'vitest';
import type { AccountState, AssignedService } from '../../src/billing/types.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { decimalToKopecks } from '../../src/reconcile/money.js';

const t = new Date('2026-06-01T12:00:00Z');
const h = (n: number) => new Date(t.getTime() + n * 3_600_000);
const opts = { usernamePrefix: 'op_', emailTemplate: '{username}@op.users-mail.lfstrm.tv' };

let nextId = 1;
function svc(uuid: string | null, serviceType: number | null, extra: Partial<AssignedService> = {}): AssignedService {
  return { serviceId: nextId++, tarId: 10, servCatIdx: 1, uuid, serviceType, timefrom: h(-24), timeto: null, state: 3, needCalc: 1, ...extra };
}

function account(extra: Partial<AccountState> = {}): AccountState {
  return {
    vgId: 7,
    login: 'ivanov',
    agentId: 1,
    tarId: 10,
    blocked: 0,
    archive: false,
    agreement: { agrmId: 1, number: 'A-1', balance: '150.255000', credit: '0.000000', state: 0, archive: false },
    card: { uid: 3, name: 'Ivanov', email: 'Ivanov@Mail.RU', archive: false },
    multitarifs: [],
    services: [svc('100', 0), svc('5010', 1), svc('', 1)],
    ...extra,
  };
}

describe('desired state', () => {
  it('maps an active account: basic + additional, balance in kopecks, prefixed username, lower-case email', () => {
    const d = desiredState(account(), t, opts);
    expect(d.subscriptions).toEqual(['100', '5010']);
    expect(d.state).toEqual({ balance: 15026, status: 'active', tvSuspended: false });
    expect(d.username).toBe('op_ivanov');
    expect(d.email).toBe('ivanov@mail.ru');
    expect(d.entitled).toBe(true);
    expect(d.issues).toEqual([]);
  });

  it.each([
    [0, 'active', false],
    [1, 'suspended_no_funds', true],
    [4, 'suspended_no_funds', true],
    [2, 'suspended_manually', true],
    [3, 'suspended_manually', true],
    [5, 'other', true],
    [10, 'other', true],
  ] as const)('block code %i → %s, tvSuspended %s', (blocked, status, suspended) => {
    const d = desiredState(account({ blocked }), t, opts);
    expect(d.state.status).toBe(status);
    expect(d.state.tvSuspended).toBe(suspended);
    expect(d.subscriptions).toEqual(suspended ? [] : ['100', '5010']);
    expect(d.entitled).toBe(true); // the platform account stays; only TV stops
  });

  it('an unknown block code suspends and is reported', () => {
    const d = desiredState(account({ blocked: 42 }), t, opts);
    expect(d.state).toMatchObject({ status: 'other', tvSuspended: true });
    expect(d.issues).toContainEqual({ kind: 'unknown_block_code', code: 42 });
  });

  it('asks for a refill of what brings balance + credit back to zero when blocked for money', () => {
    const a = account({ blocked: 1, agreement: { ...account().agreement, balance: '-120.50', credit: '20' } });
    expect(desiredState(a, t, opts).state).toEqual({ balance: -12050, status: 'suspended_no_funds', tvSuspended: true, recommendedRefill: 10050 });
  });

  it.each([
    ['archived vgroup', { archive: true }],
    ['terminated agreement', { agreement: { ...account().agreement, state: 2 } }],
    ['deleted agreement', { agreement: { ...account().agreement, state: 1 } }],
    ['archived card', { card: { ...account().card, archive: true } }],
  ])('%s: subscriptions off, state other, not entitled (never created)', (_, extra) => {
    const d = desiredState(account(extra as Partial<AccountState>), t, opts);
    expect(d.subscriptions).toEqual([]);
    expect(d.state).toMatchObject({ status: 'other', tvSuspended: true });
    expect(d.entitled).toBe(false);
  });

  it('honours timefrom/timeto, state and need_calc, and says when the next change is due', () => {
    const a = account({
      services: [
        svc('100', 0, { timeto: h(2) }),
        svc('5010', 1, { timefrom: h(5) }),
        svc('5011', 1, { timeto: h(-1) }),
        svc('5012', 1, { state: 2 }),
        svc('5013', 1, { needCalc: -1 }),
        svc('101', 0, { state: 0 }),
      ],
    });
    const d = desiredState(a, t, opts);
    expect(d.subscriptions).toEqual(['100']);
    expect(d.nextTransition).toEqual(h(2));
    expect(desiredState(a, h(2), opts).subscriptions).toEqual([]);
    expect(desiredState(a, h(2), opts).nextTransition).toEqual(h(5));
    expect(desiredState(a, h(5), opts).subscriptions).toEqual(['5010']);
    expect(desiredState(a, h(5), opts).nextTransition).toBeNull();
  });

  it('two basics in force: the latest timefrom wins and the conflict is reported', () => {
    const older = svc('100', 0, { timefrom: h(-48) });
    const newer = svc('101', 0, { timefrom: h(-2) });
    const d = desiredState(account({ services: [newer, older] }), t, opts);
    expect(d.subscriptions).toEqual(['101']);
    expect(d.issues).toEqual([{ kind: 'two_basics', serviceIds: [newer.serviceId, older.serviceId].sort((x, y) => x - y), kept: newer.serviceId }]);
  });

  it('the same basic twice (a re-attach in progress) is not a conflict', () => {
    const d = desiredState(account({ services: [svc('100', 0, { tarId: 10 }), svc('100', 0, { tarId: 11 })] }), t, opts);
    expect(d.subscriptions).toEqual(['100']);
    expect(d.issues).toEqual([]);
  });

  it('layout 3: services of a multi-tariff count only inside its window; the main tariff does not matter', () => {
    const a = account({
      tarId: 10,
      multitarifs: [{ recordId: 1, tarId: 30, dtfrom: h(-10), dtto: h(3) }],
      services: [svc('100', 0, { tarId: 30 }), svc('5010', 1, { tarId: 30 })],
    });
    expect(desiredState(a, t, opts).subscriptions).toEqual(['100', '5010']);
    expect(desiredState(a, t, opts).nextTransition).toEqual(h(3));
    expect(desiredState(a, h(3), opts).subscriptions).toEqual([]);
    expect(desiredState({ ...a, tarId: 11 }, t, opts).subscriptions).toEqual(['100', '5010']);
  });

  it('layout 2: services on the previous main tariff stay in force until re-attached or closed', () => {
    const a = account({ tarId: 11, services: [svc('100', 0, { tarId: 10 })] });
    expect(desiredState(a, t, opts).subscriptions).toEqual(['100']);
  });

  it('a services row without its category is reported and ignored', () => {
    const orphan = svc(null, null);
    const d = desiredState(account({ services: [svc('100', 0), orphan] }), t, opts);
    expect(d.subscriptions).toEqual(['100']);
    expect(d.issues).toEqual([{ kind: 'missing_category', serviceId: orphan.serviceId }]);
  });

  it('uses the email template when the card has no usable email', () => {
    for (const email of [null, '', 'not-an-email']) {
      const d = desiredState(account({ card: { ...account().card, email } }), t, opts);
      expect(d.email).toBe('op_ivanov@op.users-mail.lfstrm.tv');
    }
  });

  it('a login the platform cannot take is reported', () => {
    const d = desiredState(account({ login: 'иванов 1' }), t, opts);
    expect(d.issues).toContainEqual({ kind: 'invalid_username', username: 'op_иванов 1' });
  });
});

describe('decimalToKopecks', () => {
  it.each([
    ['0.000000', 0],
    ['-0.004', 0],
    ['12.345000', 1235],
    ['-12.345000', -1235],
    ['0.285', 29],
    ['100', 10000],
    ['-1.5', -150],
    ['.5', 50],
    ['99999999999.994999', 9999999999999],
  ])('%s → %i', (v, k) => expect(decimalToKopecks(v)).toBe(k));

  it('refuses garbage', () => {
    for (const v of ['', 'abc', '1,5', '1e3', '-']) expect(() => decimalToKopecks(v)).toThrow();
  });
});
