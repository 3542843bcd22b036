// `lbcore-lifestream run` as a real child process (through tsx, no build needed), for the tests
// that kill it, signal it or read its exit code. Its JSON log lines are kept for assertions.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const REPO = new URL('../..', import.meta.url).pathname;

export interface RunChild {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** resolves when a log line matches */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>;
}

export function writeConfig(config: Record<string, unknown>): string {
  const file = join(tmpdir(), `lifestream-${process.pid}-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, stringify(config));
  return file;
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): RunChild {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of [...waiters]) {
      if (w.re.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exited,
    output: () => out,
    waitForOutput(re, timeoutMs = 30_000) {
      if (re.test(out)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new Error(`no output matching ${re} within ${timeoutMs} ms; output:\n${out.slice(-3000)}`),
            ),
          timeoutMs,
        );
        waiters.push({
          re,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
        void exited.then(() => {
          clearTimeout(t);
          if (!re.test(out))
            reject(new Error(`exited before output matching ${re}; output:\n${out.slice(-3000)}`));
        });
      });
    },
  };
}
