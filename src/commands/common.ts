import type { Command } from 'commander';
import { type Config, loadConfig } from '../config.js';
import { createLogger, type Logger } from '../log.js';

/** The config named by the global `--config` (or LIFESTREAM_CONFIG), and a logger set up from it. */
export function configAndLogger(cmd: Command): { config: Config; logger: Logger } {
  const opts = cmd.optsWithGlobals() as { config?: string };
  const config = loadConfig(opts.config);
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  return { config, logger };
}
