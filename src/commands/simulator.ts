// `simulator`: runs the fake Smotreshka platform in the foreground, for trying the service out
// without a real platform and for benchmarks. Needs no config file.
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { createLogger } from '../log.js';
import { catalogueInput } from '../smotreshka/simulator/control.js';
import { CONTROL_PREFIX, startSimulator } from '../smotreshka/simulator/index.js';

function intArg(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
    return n;
  };
}

function readCatalogue(file: string): z.infer<typeof catalogueInput> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`cannot read ${file} as JSON: ${(err as Error).message}`);
  }
  const parsed = catalogueInput.safeParse(raw);
  if (!parsed.success) throw new InvalidArgumentError(`${file}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function registerSimulator(program: Command) {
  program
    .command('simulator')
    .description(
      'run an in-memory Smotreshka platform (the operator API: /v2/..., /accounts/v3/...) in the foreground until ' +
        `Ctrl-C, with a control API under ${CONTROL_PREFIX}/ for recorded calls, fault injection and platform-side ` +
        'changes; state is lost when it stops',
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', intArg(0, 65535), 8090)
    .option(
      '--catalogue <file.json>',
      'subscription catalogue: a JSON array of {"id", "name", "archived"?}; default: 100, 101, 102, 5010-5013, and 5099 (archived)',
      readCatalogue,
    )
    .option('--latency <ms>', 'delay added to every platform call', intArg(0, 600_000), 0)
    .addOption(
      new Option('--id-mode <mode>', 'what {id} in paths may be')
        .choices(['accountId', 'username', 'both'])
        .default('both'),
    )
    .action(
      async (opts: {
        host: string;
        port: number;
        catalogue?: z.infer<typeof catalogueInput>;
        latency: number;
        idMode: 'accountId' | 'username' | 'both';
      }) => {
        const logger = createLogger({ name: 'simulator' });
        const sim = await startSimulator({
          host: opts.host,
          port: opts.port,
          catalogue: opts.catalogue,
          latencyMs: opts.latency,
          idMode: opts.idMode,
          logger,
        });
        process.stdout.write(
          `platform simulator: ${sim.url}\ncontrol API:        ${sim.url}${CONTROL_PREFIX}/\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await sim.close();
      },
    );
}
