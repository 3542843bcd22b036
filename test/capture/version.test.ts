import { describe, expect, it } from 'vitest';
import { captureRefusal, parseMysqlVersion, parsePgVersionNum } from '../../migrations/capture/version.js';

describe('which servers can carry the capture triggers', () => {
  it.each([
    ['10.11.19-MariaDB-0+deb12u1-log', null],
    ['10.2.3-MariaDB', null],
    ['5.5.5-10.3.39-MariaDB', null],
    ['8.0.36', null],
    ['5.7.8-log', null],
  ])('accepts %s', (v, expected) => {
    expect(captureRefusal(parseMysqlVersion(v))).toBe(expected);
  });

  it.each([
    ['10.2.2-MariaDB', /MariaDB >= 10\.2\.3.*10\.2\.2/],
    ['10.1.48-MariaDB', /MariaDB >= 10\.2\.3/],
    ['5.7.7', /MySQL >= 5\.7\.8.*several triggers.*JSON_OBJECT/],
    ['5.6.51-log', /MySQL >= 5\.7\.8.*5\.6\.51/],
  ])('refuses %s with a message naming the floor', (v, message) => {
    expect(captureRefusal(parseMysqlVersion(v))).toMatch(message);
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
