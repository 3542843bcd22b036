import { describe, expect, it } from 'vitest';
import {
  captureRefusal,
  debeziumRefusal,
  parseMysqlVersion,
  parsePgVersionNum,
  severalTriggersPerSlot,
} from '../../migrations/capture/version.js';

describe('which servers can carry the capture triggers', () => {
  it.each([
    '10.11.19-MariaDB-0+deb12u1-log',
    '10.2.3-MariaDB',
    '10.1.23-MariaDB',
    '10.0.38-MariaDB',
    '5.5.5-10.3.39-MariaDB',
    '8.0.36',
    '5.7.8-log',
    '5.6.4',
    '5.6.51-log',
  ])('accepts %s', (v) => {
    expect(captureRefusal(parseMysqlVersion(v))).toBeNull();
  });

  it.each([
    ['5.6.3', /MySQL >= 5\.6\.4 \(fractional-second DATETIME.*5\.6\.3/],
    ['5.5.62-log', /MySQL >= 5\.6\.4.*5\.5\.62/],
    ['5.5.5-5.5.68-MariaDB', /MariaDB >= 10\.0\.0.*5\.5\.68/],
  ])('refuses %s with a message naming the floor', (v, message) => {
    expect(captureRefusal(parseMysqlVersion(v))).toMatch(message);
  });

  it('knows which servers allow one trigger per table, timing and event', () => {
    expect(severalTriggersPerSlot(parseMysqlVersion('10.1.23-MariaDB'))).toBe(false);
    expect(severalTriggersPerSlot(parseMysqlVersion('10.2.2-MariaDB'))).toBe(false);
    expect(severalTriggersPerSlot(parseMysqlVersion('10.2.3-MariaDB'))).toBe(true);
    expect(severalTriggersPerSlot(parseMysqlVersion('5.7.1'))).toBe(false);
    expect(severalTriggersPerSlot(parseMysqlVersion('5.7.2'))).toBe(true);
    expect(severalTriggersPerSlot(parsePgVersionNum('130000'))).toBe(true);
  });

  it('says plainly what Debezium supports', () => {
    expect(debeziumRefusal(parseMysqlVersion('5.6.51'))).toMatch(
      /MySQL 8\.0 and later.*DBZ-6874.*DBZ-7652.*capture\.mode: triggers/,
    );
    expect(debeziumRefusal(parseMysqlVersion('5.7.44'))).toMatch(/MySQL 8\.0 and later/);
    expect(debeziumRefusal(parseMysqlVersion('10.1.23-MariaDB'))).toMatch(
      /MariaDB connector.*10\.1\.23.*capture\.mode: triggers/,
    );
    expect(debeziumRefusal(parseMysqlVersion('8.0.36'))).toBeNull();
    expect(debeziumRefusal(parseMysqlVersion('10.11.19-MariaDB'))).toBeNull();
    expect(debeziumRefusal(parsePgVersionNum('150020'))).toBeNull();
  });

  it('reads PostgreSQL version numbers', () => {
    expect(captureRefusal(parsePgVersionNum('150020'))).toBeNull();
    expect(captureRefusal(parsePgVersionNum('130000'))).toBeNull();
    expect(captureRefusal(parsePgVersionNum('120017'))).toMatch(/PostgreSQL >= 13.*12\.17/);
  });

  it('refuses to guess an unreadable version', () => {
    expect(() => parseMysqlVersion('unknown')).toThrow(/cannot read/);
  });
});
