// `npm run stack:start` on a fresh clone must work the first time, also on a loaded machine: a
// second stack from an empty folder, on ports of its own, started while busy processes take every
// core. (It used to fail with "the Kafka broker is not running (it exited during start?)" while
// the broker was in fact starting: the pid check read /proc/<pid>/cmdline before the forked shell
// had exec'd java.) The jars come from the local Maven repository that the main stack's fetch
// filled, so no network is needed beyond what CI's first start already did.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL('../../scripts/stack/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'lifestream-first-start-'));
const env = {
  ...process.env,
  LIFESTREAM_STACK_DIR: dir,
  KAFKA_PORT: '29092',
  KAFKA_CONTROLLER_PORT: '29093',
  CONNECT_PORT: '28083',
  CONNECT_GROUP_ID: 'lifestream-first-start',
};

describe('the stack scripts on a fresh folder', () => {
  const load: ChildProcess[] = [];
  afterAll(async () => {
    for (const p of load) p.kill('SIGKILL');
    await run('bash', [join(SCRIPTS, 'stop.sh')], { env }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('start the first time under load, then report the stack ready', async () => {
    for (let i = 0; i < cpus().length + 1; i++) {
      load.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
    }
    const started = await run('bash', [join(SCRIPTS, 'start.sh')], { env, timeout: 400_000 }).catch(
      (err: { code?: number; stdout?: string; stderr?: string }) => err,
    );
    for (const p of load) p.kill('SIGKILL');
    const out = `${started.stdout ?? ''}\n${started.stderr ?? ''}`;
    expect(out, out).toContain('stack up in');
    expect('code' in started ? started.code : 0, out).toBe(0);
    const status = await run('bash', [join(SCRIPTS, 'status.sh')], { env });
    expect(status.stdout).toMatch(/broker: +running/);
    expect(status.stdout).toMatch(/connect: running .* lists the Debezium connectors/);
  }, 450_000);
});
