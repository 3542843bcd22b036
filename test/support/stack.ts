// The local Kafka + Kafka Connect stack (scripts/stack/) for end-to-end tests: whether it answers,
// removing what a test registered, and a lock between test files: the files that restart the
// broker or Connect take it exclusively and wait for the others to finish; the others take it
// shared and wait while a restart test runs. vitest runs files in parallel processes, so the lock
// lives in the file system: one marker file per holder, holders that died are ignored.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BROKER = process.env.LIFESTREAM_TEST_KAFKA ?? '127.0.0.1:9092';
/** the stack's folder (scripts/stack/lib.sh): its secrets/ holds the connectors' password files */
export const STACK_DIR =
  process.env.LIFESTREAM_STACK_DIR ?? join(new URL('../..', import.meta.url).pathname, '.stack');
export const SECRETS_DIR = join(STACK_DIR, 'secrets');
export const CONNECT_URL = process.env.LIFESTREAM_TEST_CONNECT ?? 'http://127.0.0.1:8083';
const DEBEZIUM = [
  'io.debezium.connector.postgresql.PostgresConnector',
  'io.debezium.connector.mariadb.MariaDbConnector',
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function tcpOpen(hostPort: string, timeoutMs = 1000): Promise<boolean> {
  const i = hostPort.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = connect({ host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Why the stack can't be used, or null when Kafka answers and Connect lists the Debezium
 * connectors. Files call it when they load, which may be while a restart test has the stack down:
 * it waits until that test lets go, and asks again a few times, so that a file is skipped only when
 * the stack is really not there.
 */
export async function stackProblem(): Promise<string | null> {
  const end = Date.now() + 600_000;
  while (exclusiveHeld() && Date.now() < end) await sleep(1_000);
  let problem: string | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    problem = await probeStack();
    if (problem === null) return null;
    await sleep(5_000);
  }
  return problem;
}

async function probeStack(): Promise<string | null> {
  if (!(await tcpOpen(BROKER))) return `Kafka does not answer on ${BROKER}`;
  try {
    const res = await fetch(`${CONNECT_URL}/connector-plugins`, { signal: AbortSignal.timeout(5000) });
    const plugins = (await res.json()) as { class: string }[];
    const missing = DEBEZIUM.filter((c) => !plugins.some((p) => p.class === c));
    return missing.length ? `Kafka Connect at ${CONNECT_URL} lacks ${missing.join(', ')}` : null;
  } catch (err) {
    return `Kafka Connect does not answer at ${CONNECT_URL} (${(err as Error).message})`;
  }
}

/** Logs why a file is skipped; call at module level with the result of stackProblem(). */
export function announceSkip(file: string, problem: string | null): void {
  if (problem) {
    console.warn(
      `[${file}] SKIPPED: ${problem}. Start the stack with \`npm run stack:start\` (and prepare the databases with ` +
        'scripts/ci/ensure-databases.sh) to run it; CI does.',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The lock between test files.
const LOCK_DIR = join(tmpdir(), 'lifestream-stack-lock');
const USERS = join(LOCK_DIR, 'users');
const EXCLUSIVE = join(LOCK_DIR, 'exclusive');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && alive(pid) ? pid : null;
  } catch {
    return null;
  }
}

function liveUsers(except?: string): string[] {
  mkdirSync(USERS, { recursive: true });
  return readdirSync(USERS).filter((f) => f !== except && holderPid(join(USERS, f)) !== null);
}

function exclusiveHeld(): boolean {
  return holderPid(EXCLUSIVE) !== null && holderPid(EXCLUSIVE) !== process.pid;
}

/** Shared use of the stack for a whole test file; waits while a restart test holds it. Returns the release. */
export async function useStack(label: string, timeoutMs = 600_000): Promise<() => void> {
  mkdirSync(USERS, { recursive: true });
  const me = join(USERS, `${label}-${process.pid}-${randomBytes(3).toString('hex')}`);
  const end = Date.now() + timeoutMs;
  for (;;) {
    // register first, then look: a restart test that took the lock meanwhile sees us, or we see it
    writeFileSync(me, String(process.pid));
    if (!exclusiveHeld()) return () => unlinkSync(me);
    unlinkSync(me);
    if (Date.now() > end)
      throw new Error(`[${label}] the stack stayed locked by a restart test for ${timeoutMs} ms`);
    await sleep(500);
  }
}

/** Exclusive use (restarting the broker or Connect): waits until no other test file uses the stack. */
export async function lockStackExclusively(label: string, timeoutMs = 600_000): Promise<() => void> {
  mkdirSync(USERS, { recursive: true });
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(EXCLUSIVE, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      // held: by a live test, or left by one that died (then it is ours to clear)
      if (holderPid(EXCLUSIVE) === null) {
        try {
          unlinkSync(EXCLUSIVE);
        } catch {
          // cleared by someone else meanwhile
        }
        continue;
      }
    }
    if (Date.now() > end) throw new Error(`[${label}] another restart test holds the stack`);
    await sleep(500);
  }
  while (liveUsers().length > 0) {
    if (Date.now() > end) {
      unlinkSync(EXCLUSIVE);
      throw new Error(
        `[${label}] other test files kept using the stack for ${timeoutMs} ms: ${liveUsers().join(', ')}`,
      );
    }
    await sleep(500);
  }
  return () => {
    if (holderPid(EXCLUSIVE) === process.pid) unlinkSync(EXCLUSIVE);
  };
}

/**
 * Connector passwords reach Connect through its FileConfigProvider (capture.connect.secret: file).
 * A worker started by an older scripts/stack/start.sh lacks it: then Connect is restarted once
 * (exclusively, like any restart test) with this checkout's script, which enables it. The worker
 * has it when its generated config says so and it started after that config was written (any
 * start.sh rewrites the file, also while Connect keeps running with what it read before).
 */
export async function ensureConfigProviders(label: string): Promise<void> {
  const props = join(STACK_DIR, 'config', 'connect-distributed.properties');
  const enabled = () => {
    try {
      if (!/^config\.providers=.*\bfile\b/m.test(readFileSync(props, 'utf8'))) return false;
      const pid = readFileSync(join(STACK_DIR, 'run', 'connect.pid'), 'utf8').trim();
      const ticks = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);
      const boot = Number(/^btime (\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
      const startedMs = (boot + ticks / 100) * 1000;
      return statSync(props).mtimeMs <= startedMs + 1_000;
    } catch {
      return false;
    }
  };
  if (enabled()) return;
  const release = await lockStackExclusively(`${label}-providers`);
  try {
    if (enabled()) return;
    const { execFileSync } = await import('node:child_process');
    execFileSync(join(new URL('../..', import.meta.url).pathname, 'scripts/stack/restart-connect.sh'), {
      env: { ...process.env, LIFESTREAM_STACK_DIR: STACK_DIR },
      stdio: 'ignore',
      timeout: 240_000,
    });
  } finally {
    release();
  }
}
