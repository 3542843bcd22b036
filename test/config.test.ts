import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, redactUrl } from '../src/config.js';

const minimal = { billing: { client: 'pg', connection: 'postgres://u:secret@h/db' }, smotreshka: { url: 'http://127.0.0.1:9' } };

describe('configuration', () => {
  it('accepts the documented example file as it is', () => {
    const cfg = parseConfig(parse(readFileSync('config/lifestream.example.yml', 'utf8')));
    expect(cfg.capture.mode).toBe('triggers');
    expect(cfg.smotreshka.accountIdMode).toBe('accountId');
  });

  it('fills sane defaults', () => {
    const cfg = parseConfig(minimal);
    expect(cfg.listen).toBe('127.0.0.1:8080');
    expect(cfg.smotreshka.platformChanges).toBe('mirror');
    expect(cfg.state.tablePrefix).toBe('lifestream_');
  });

  it.each([
    [{ ...minimal, extra: 1 }, 'unknown key "extra"'],
    [{ ...minimal, billing: { ...minimal.billing, client: 'oracle' } }, '"billing.client"'],
    [{ ...minimal, smotreshka: { url: 'http://x', accountIdMode: 'login' } }, '"smotreshka.accountIdMode"'],
    [{ ...minimal, smotreshka: { url: 'http://x', usernamePrefix: 'has space' } }, '"smotreshka.usernamePrefix"'],
    [{ ...minimal, listen: '8080' }, '"listen"'],
    [{ ...minimal, capture: { kafka: { brokers: ['nohost'] } } }, '"capture.kafka.brokers.0"'],
    [{ ...minimal, upsale: { allow: ['everyone'] } }, '"upsale.allow.0"'],
    [{ ...minimal, smotreshka: { url: 'http://x', scanIntervalSeconds: 1 } }, '"smotreshka.scanIntervalSeconds"'],
    [{ billing: minimal.billing }, '"smotreshka"'],
    [{ ...minimal, billing: { ...minimal.billing, timeZone: 'YEKT' } }, '"billing.timeZone": not a time zone'],
  ])('refuses %j naming the key', (raw, key) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(key);
  });

  it('never echoes a password in its messages', () => {
    try {
      parseConfig({ ...minimal, billing: { ...minimal.billing, client: 'x' } });
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
    expect(redactUrl('mysql://billing:s3cr3t@10.0.0.1:3306/billing')).toBe('mysql://billing:***@10.0.0.1:3306/billing');
    expect(redactUrl('postgres://u@h/db')).toBe('postgres://u@h/db');
  });
});

describe('the example configuration', () => {
  it('documents every key the service knows', () => {
    const example = parse(readFileSync('config/lifestream.example.yml', 'utf8'));
    const paths = (o: Record<string, unknown>, p = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) =>
        v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length
          ? paths(v as Record<string, unknown>, `${p}${k}.`)
          : [`${p}${k}`],
      );
    const documented = new Set(paths(example));
    expect(paths(parseConfig(example) as unknown as Record<string, unknown>).filter((k) => !documented.has(k))).toEqual([]);
  });

  it('documents the optional keys without a default as comments, with a value that is accepted', () => {
    const text = readFileSync('config/lifestream.example.yml', 'utf8');
    const zone = /^ {2}# timeZone: (\S+)/m.exec(text)?.[1];
    expect(zone).toBeDefined();
    const example = parse(text);
    expect(parseConfig({ ...example, billing: { ...example.billing, timeZone: zone } }).billing.timeZone).toBe(zone);
  });
});
