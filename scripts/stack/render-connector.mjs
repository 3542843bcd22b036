#!/usr/bin/env node
// Renders a connector template of connectors/ with values from the environment and prints the
// JSON config. Placeholders: ${NAME} (must be set) and ${NAME:-default} (default when NAME is
// unset or empty); NAME is upper case [A-Z0-9_]. Anything else, e.g. Kafka Connect's own
// config-provider references ${env:VAR} or ${file:/path:key}, is left for Connect to resolve.
// Values are JSON-escaped, so passwords with quotes or backslashes are safe.
// Usage: node scripts/stack/render-connector.mjs connectors/postgres.json > config.json
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: render-connector.mjs <template.json>');
  process.exit(2);
}
const template = readFileSync(file, 'utf8');
const missing = new Set();
const rendered = template.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g, (_, name, fallback) => {
  const value = process.env[name];
  if (value !== undefined && value !== '') return JSON.stringify(value).slice(1, -1);
  if (fallback !== undefined) return JSON.stringify(fallback).slice(1, -1);
  missing.add(name);
  return '';
});
if (missing.size > 0) {
  console.error(`${file}: no value for ${[...missing].join(', ')} (set them in the environment)`);
  process.exit(1);
}
let config;
try {
  config = JSON.parse(rendered);
} catch (err) {
  console.error(`${file}: the rendered template is not valid JSON: ${err.message}`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
