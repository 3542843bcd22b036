// Reading SHOW GRANTS to tell whether the capture triggers' definer still holds what they need.
import { describe, expect, it } from 'vitest';
import { accountOf, missingPrivileges, type Need } from '../../src/capture/triggers/grants.js';

const needs: Need[] = [
  { privilege: 'INSERT', table: 'lifestream_changes' },
  { privilege: 'SELECT', table: 'vgroups' },
  { privilege: 'TRIGGER', table: 'vgroups' },
];

describe('the grants a trigger definer holds', () => {
  it('global and database grants cover every table; ALL covers every privilege', () => {
    expect(
      missingPrivileges(
        ["GRANT ALL PRIVILEGES ON *.* TO 'root'@'localhost' WITH GRANT OPTION"],
        'billing',
        needs,
      ),
    ).toEqual([]);
    expect(
      missingPrivileges(
        [
          "GRANT USAGE ON *.* TO 'svc'@'%' IDENTIFIED BY PASSWORD '*0123456789ABCDEF'",
          "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, LOCK TABLES, TRIGGER ON `billing`.* TO 'svc'@'%'",
        ],
        'billing',
        needs,
      ),
    ).toEqual([]);
  });

  it('a database grant is a LIKE pattern, with \\_ a literal underscore', () => {
    const lines = ["GRANT SELECT, INSERT, TRIGGER ON `bill\\_%`.* TO 'svc'@'%'"];
    expect(missingPrivileges(lines, 'bill_main', needs)).toEqual([]);
    expect(missingPrivileges(lines, 'billXmain', needs)).toEqual(needs);
  });

  it('table grants cover their table only; column grants and routines cover nothing', () => {
    expect(
      missingPrivileges(
        [
          "GRANT INSERT ON `billing`.`lifestream_changes` TO 'svc'@'%'",
          "GRANT SELECT (`vg_id`, `blocked`), TRIGGER ON `billing`.`vgroups` TO 'svc'@'%'",
          "GRANT EXECUTE ON PROCEDURE `billing`.`p` TO 'svc'@'%'",
        ],
        'billing',
        needs,
      ),
    ).toEqual([{ privilege: 'SELECT', table: 'vgroups' }]);
    expect(
      missingPrivileges(["GRANT SELECT, TRIGGER, INSERT ON `other`.* TO 'svc'@'%'"], 'billing', needs),
    ).toEqual(needs);
  });

  it('reads a DEFINER as information_schema prints it', () => {
    expect(accountOf('lifestream@%')).toEqual({ user: 'lifestream', host: '%' });
    expect(accountOf('odd@name@10.0.0.%')).toEqual({ user: 'odd@name', host: '10.0.0.%' });
  });
});
