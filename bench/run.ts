// `npm run bench [-- name...]`: measures, prints JSON figures, asserts nothing. Names: sync
// (sync --all of 10,000 and 100,000 accounts), sync-mysql, and any bench/<name>.ts that prints
// JSON on its own (e.g. propagation). Needs the build (`npm run build`) and the databases.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { benchSync } from './sync.js';

const wanted = process.argv.slice(2);
const want = (name: string, byDefault = true) => (wanted.length === 0 ? byDefault : wanted.includes(name));
const results: Record<string, unknown> = { machine: { cpus: (await import('node:os')).cpus().length, node: process.version } };

if (want('sync')) {
  results.sync = [await benchSync('pg', 10_000), await benchSync('pg', 100_000)];
}
if (want('sync-mysql', false)) {
  results.syncMysql = [await benchSync('mysql', 10_000), await benchSync('mysql', 100_000)];
}
for (const name of ['propagation', 'kafka']) {
  if (!want(name) || !existsSync(`bench/${name}.ts`)) continue;
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    results[name] = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    results[name] = { error: `bench/${name}.ts exited ${r.status} without JSON`, tail: r.stdout.slice(-500) };
  }
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
