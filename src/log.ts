// pino, JSON by default and readable lines on a terminal. Secrets never reach a log: connection
// strings are redacted before they are logged (redactUrl), and these paths are censored as a
// second line of defence.
import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'password',
  '*.password',
  'connection',
  '*.connection',
  'billing.connection',
  'config.billing.connection',
  'headers.authorization',
  '*.headers.authorization',
];

export function createLogger(opts: { level?: string; format?: 'auto' | 'json' | 'pretty'; name?: string } = {}): Logger {
  const pretty = opts.format === 'pretty' || (opts.format !== 'json' && process.stderr.isTTY === true);
  return pino(
    {
      name: opts.name ?? 'lbcore-lifestream',
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT, censor: '***' },
    },
    pretty
      ? pino.transport({ target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l' } })
      : pino.destination(2),
  );
}

/** A logger that drops everything: for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
