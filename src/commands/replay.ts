// `replay --since <ISO time> [--dry-run]`: rewinds the service's consumer group (debezium mode)
// to the first change at or after that time; the next `run` reads every change since then again
// and reconciles the accounts they name. Refuses while a `run` is in the group (stop them first).
// See src/capture/debezium/replay.ts and the README's runbook.
import { type Command, InvalidArgumentError } from 'commander';
import { openKnex } from '../app.js';
import { topicsFor } from '../capture/debezium/install.js';
import { createStreamAdmin } from '../capture/debezium/kafka.js';
import { applyReplay, planReplay, ReplayRefused, renderReplay } from '../capture/debezium/replay.js';
import { configAndLogger } from './common.js';

function isoTime(value: string): Date {
  // a date alone or a date-time with an explicit zone: a zone-less time would silently mean the
  // machine's zone, which is how a replay starts hours off
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(value)) {
    throw new InvalidArgumentError(
      'expected an ISO 8601 time with a zone, e.g. 2026-11-24T06:00:00+05:00 or 2026-11-24T01:00:00Z, or a date (UTC midnight)',
    );
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError(`"${value}" is not a valid time`);
  return d;
}

export function registerReplay(program: Command) {
  program
    .command('replay')
    .description(
      'debezium mode: rewind the consumer group (capture.kafka.groupId) so that the next `run` re-reads every change ' +
        'since a time and reconciles those accounts again; stop every `run` first',
    )
    .requiredOption('--since <time>', 'ISO 8601 time with a zone (or a date, UTC midnight)', isoTime)
    .option(
      '-n, --dry-run',
      'show per topic/partition the current and target offsets and how many messages would be re-read; change nothing',
    )
    .action(async (opts: { since: Date; dryRun?: boolean }, cmd: Command) => {
      const { config, logger } = configAndLogger(cmd);
      if (config.capture.mode !== 'debezium')
        cmd.error('replay needs capture.mode: debezium (in trigger mode run `sync --all`)', { exitCode: 2 });
      if (opts.since.getTime() > Date.now())
        cmd.error('--since is in the future: there is nothing to replay', { exitCode: 2 });
      const knex = openKnex(config);
      const admin = createStreamAdmin(config.capture.kafka, logger);
      const groupId = config.capture.kafka.groupId;
      try {
        const topics = await topicsFor(config, knex);
        const plan = await planReplay(admin, groupId, [...topics.tables.keys()], opts.since.getTime());
        if (plan.length === 0)
          cmd.error(
            `none of the capture topics exists on ${config.capture.kafka.brokers.join(',')}: was \`migrate\` run?`,
            { exitCode: 1 },
          );
        if (!opts.dryRun) await applyReplay(admin, groupId, plan);
        process.stdout.write(renderReplay(plan, groupId, opts.since, opts.dryRun ?? false));
        if (!opts.dryRun)
          logger.info(
            { groupId, since: opts.since.toISOString() },
            'consumer group rewound; start `run` to re-read',
          );
      } catch (err) {
        if (err instanceof ReplayRefused) cmd.error(err.message, { exitCode: 3 });
        throw err;
      } finally {
        await admin.close();
        await knex.destroy();
      }
    });
}
