// The value normalisation the read model applies to what the two drivers hand over.
import { describe, expect, it } from 'vitest';
import { billingClock, UTC_CLOCK } from '../../src/billing/clock.js';
import { sqlDateTime } from '../../src/billing/sql-time.js';
import { flag, int, money, trimmedOrNull, windowEnd, windowStart } from '../../src/billing/values.js';

describe('money', () => {
  it.each([
    ['-12.500000', '-12.500000'],
    ['-12.5', '-12.500000'],
    ['-12.50', '-12.500000'],
    ['12', '12.000000'],
    ['0', '0.000000'],
    ['-0.000000', '0.000000'],
    ['007.10', '7.100000'],
    ['.5', '0.500000'],
    ['1234567890123.123456', '1234567890123.123456'],
    ['1.12345670', '1.1234567'],
    ['1.00000000', '1.000000'],
  ])('%s → %s', (input, expected) => {
    expect(money(input, 'x')).toBe(expected);
  });

  it('reads NULL as zero', () => {
    expect(money(null, 'x')).toBe('0.000000');
  });

  it('refuses floats and non-decimals instead of rounding or guessing', () => {
    expect(() => money(12.5, 'agreements.balance')).toThrow(/agreements.balance.*string/);
    expect(() => money('12,5', 'x')).toThrow(/not a decimal/);
    expect(() => money('-', 'x')).toThrow(/not a decimal/);
  });
});

describe('windows', () => {
  const d = new Date('2026-03-29T01:30:00Z');
  const yekaterinburg = billingClock('Asia/Yekaterinburg');
  it('a start that is not set (NULL, zero date, ±infinity) is the epoch', () => {
    for (const clock of [UTC_CLOCK, yekaterinburg]) {
      expect(windowStart(null, 'x', clock)).toEqual(new Date(0));
      expect(windowStart(new Date(Number.NaN), 'x', clock)).toEqual(new Date(0));
      expect(windowStart('0000-00-00 00:00:00', 'x', clock)).toEqual(new Date(0));
    }
    expect(windowStart(d, 'x', UTC_CLOCK)).toEqual(d);
  });
  it("a set start is the billing's wall clock placed in its zone", () => {
    expect(windowStart(d, 'x', yekaterinburg)).toEqual(new Date('2026-03-28T20:30:00Z'));
  });
  it('an end that is not set or from the year 9000 on (as the billing wrote it) is open (null)', () => {
    for (const clock of [UTC_CLOCK, yekaterinburg]) {
      expect(windowEnd(null, 'x', clock)).toBeNull();
      expect(windowEnd(new Date(Number.NaN), 'x', clock)).toBeNull();
      expect(windowEnd(new Date('9999-12-31T23:59:59Z'), 'x', clock)).toBeNull();
      expect(windowEnd(new Date('9000-01-01T00:00:00Z'), 'x', clock)).toBeNull();
    }
    expect(windowEnd(new Date('8999-12-31T23:59:59Z'), 'x', UTC_CLOCK)).toEqual(
      new Date('8999-12-31T23:59:59Z'),
    );
    expect(windowEnd(d, 'x', UTC_CLOCK)).toEqual(d);
    expect(windowEnd(d, 'x', yekaterinburg)).toEqual(new Date('2026-03-28T20:30:00Z'));
  });
  it('refuses what is no DATETIME (a driver set to hand numbers over), naming the column', () => {
    expect(() => windowStart(1774747800000, 'services.timefrom', UTC_CLOCK)).toThrow(/services.timefrom/);
  });
});

describe('small values', () => {
  it('flags: any non-zero tinyint is set', () => {
    expect([flag(0), flag(1), flag(2), flag(true), flag(false), flag(null)]).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
    ]);
  });
  it('integers: bigint strings are read, anything else refused', () => {
    expect(int('42', 'x')).toBe(42);
    expect(int(7, 'x')).toBe(7);
    expect(() => int('4.5', 'count')).toThrow(/count/);
    expect(() => int(null, 'x')).toThrow();
  });
  it('emails: trimmed, empty is null', () => {
    expect([trimmedOrNull('  a@b.c '), trimmedOrNull('   '), trimmedOrNull(''), trimmedOrNull(null)]).toEqual(
      ['a@b.c', null, null, null],
    );
  });
});

describe('sqlDateTime', () => {
  it('writes UTC wall-clock seconds, cutting milliseconds', () => {
    expect(sqlDateTime(new Date('2026-03-29T01:30:59.999Z'))).toBe('2026-03-29 01:30:59');
    expect(sqlDateTime(new Date('1969-12-31T23:59:59.500Z'))).toBe('1969-12-31 23:59:59');
  });
  it('refuses an invalid Date', () => {
    expect(() => sqlDateTime(new Date(Number.NaN))).toThrow(RangeError);
  });
});
