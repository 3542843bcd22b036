import type { Knex } from 'knex';

/** What every migration may depend on besides the connection. */
export interface MigrationContext {
  dialect: 'pg' | 'mysql';
  /** prefix of the service's own tables, e.g. "lifestream_" */
  prefix: string;
  captureMode: 'triggers' | 'debezium';
}

export interface Migration {
  name: string;
  up(knex: Knex, ctx: MigrationContext): Promise<void>;
  down(knex: Knex, ctx: MigrationContext): Promise<void>;
}
