#!/usr/bin/env node
// The `lbcore-lifestream` command. Each subcommand lives in src/commands/<name>.ts and registers
// itself here; this file only wires them and turns errors into exit codes.
import { Command } from 'commander';
import { ConfigError } from './config.js';
import { registerDoctor } from './commands/doctor.js';
import { registerMigrate } from './commands/migrate.js';
import { registerReplay } from './commands/replay.js';
import { registerRun } from './commands/run.js';
import { registerSimulator } from './commands/simulator.js';
import { registerSync } from './commands/sync.js';

const program = new Command();
program
  .name('lbcore-lifestream')
  .description('Keeps the Smotreshka (LifeStream) TV platform in step with LANBilling')
  .option('-c, --config <file>', 'configuration file (YAML); default: $LIFESTREAM_CONFIG')
  .showHelpAfterError();

registerMigrate(program);
registerRun(program);
registerSync(program);
registerDoctor(program);
registerReplay(program);
registerSimulator(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`lbcore-lifestream: ${err.message}\n`);
    process.exit(2);
  }
  // Expected failures (platform unreachable, database refused) read as one line; the stack only
  // helps a developer, so it is printed with LOG_LEVEL=debug.
  const e = err as Error;
  const detail = process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace' ? e?.stack : e?.message;
  process.stderr.write(`lbcore-lifestream: ${detail ?? String(err)}\n`);
  process.exit(1);
});
