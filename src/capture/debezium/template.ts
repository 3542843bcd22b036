// The connector templates of connectors/ rendered in TypeScript, with the same rule as
// scripts/stack/render-connector.mjs: `${NAME}` must have a value, `${NAME:-default}` falls back
// when the value is unset or empty, NAME is upper case; anything else in `${…}` (Kafka Connect's
// own `${file:…}` / `${env:…}` references) is left for Connect to resolve. Values are JSON-escaped.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ConnectorKind = 'postgres' | 'mysql' | 'mariadb';

export type ConnectorConfig = Record<string, string>;

const PLACEHOLDER = /\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g;

/** Renders template text; throws naming every placeholder without a value. */
export function renderTemplate(
  template: string,
  values: Readonly<Record<string, string | undefined>>,
  what = 'connector template',
): ConnectorConfig {
  const missing = new Set<string>();
  const rendered = template.replace(PLACEHOLDER, (_, name: string, fallback: string | undefined) => {
    const value = values[name];
    if (value !== undefined && value !== '') return JSON.stringify(value).slice(1, -1);
    if (fallback !== undefined) return JSON.stringify(fallback).slice(1, -1);
    missing.add(name);
    return '';
  });
  if (missing.size > 0) throw new Error(`${what}: no value for ${[...missing].join(', ')}`);
  let config: unknown;
  try {
    config = JSON.parse(rendered);
  } catch (err) {
    throw new Error(`${what}: the rendered template is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new Error(`${what}: not a JSON object`);
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, String(v)]));
}

/** The folder holding connectors/ (the package root), from the sources or from dist/. */
export function connectorsDir(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'lbcore-lifestream') return join(dir, 'connectors');
    } catch {
      // not here: one level up
    }
    const up = dirname(dir);
    if (up === dir)
      throw new Error('cannot find the lbcore-lifestream package root (connectors/ lives there)');
    dir = up;
  }
}

export function readTemplate(kind: ConnectorKind, dir = connectorsDir()): string {
  return readFileSync(join(dir, `${kind}.json`), 'utf8');
}
