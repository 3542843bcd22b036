// First diagnostics: each check says what it looked at and, when something is wrong, what to do.
// Pure reporting; it changes nothing.
import {
  captureRefusal,
  debeziumRefusal,
  parseMysqlVersion,
  type ServerVersion,
} from '../../migrations/capture/version.js';
import type { App } from '../app.js';
import { missingTables, serverVersion, tvCategoryUuids } from '../billing/catalogue.js';
import { databaseWallNow } from '../billing/clock-discovery.js';
import { debeziumChecks } from '../capture/debezium/doctor.js';
import { triggerChecks } from '../capture/triggers/doctor.js';
import { redactUrl } from '../config.js';
import { PlatformError } from '../smotreshka/errors.js';
import { migrationStatus } from '../state/migrate.js';
import { clockCheck } from './clock-check.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';
export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

export async function runDoctor(app: App): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, status: CheckStatus, detail: string) => checks.push({ name, status, detail });
  const { config, knex } = app;

  // 1. the billing database
  let billingUp = false;
  try {
    const v = await serverVersion(knex, config.billing.client);
    billingUp = true;
    add('billing database', 'ok', `${v.product} ${v.version} at ${redactUrl(config.billing.connection)}`);
    const refusal = serverRefusal(v, config.capture.mode);
    if (refusal) add('server version', 'fail', refusal);
  } catch (err) {
    add('billing database', 'fail', `cannot connect to ${redactUrl(config.billing.connection)}: ${(err as Error).message}`);
  }

  if (billingUp) {
    try {
      const wall = await databaseWallNow(knex, config.billing.client);
      const c = clockCheck(app.clock, app.clockSource, wall, new Date());
      add("billing's clock", c.status, c.detail);
    } catch (err) {
      add("billing's clock", 'fail', `${app.clockSource}: ${(err as Error).message}`);
    }
    const missing = await missingTables(knex);
    add('LANBilling tables', missing.length ? 'fail' : 'ok', missing.length ? `missing: ${missing.join(', ')} — is billing.connection the LANBilling database?` : 'all present');
    try {
      const s = await migrationStatus(knex, app.migration);
      add('own tables (migrate)', s.pending.length ? 'fail' : 'ok', s.pending.length ? `pending: ${s.pending.join(', ')} — run \`lbcore-lifestream migrate\`` : `up to date (${s.applied.length} applied)`);
    } catch (err) {
      add('own tables (migrate)', 'fail', `cannot read migration status: ${(err as Error).message}`);
    }
  }

  // 2. the platform
  let catalogue: Set<string> | null = null;
  try {
    const subs = await app.platform.listSubscriptions();
    catalogue = new Set(subs.map((s) => String(s.id)));
    add('platform', 'ok', `${config.smotreshka.url} answers; catalogue has ${subs.length} subscriptions`);
  } catch (err) {
    const hint =
      err instanceof PlatformError && err.kind === 'forbidden'
        ? ' — the platform refuses this server\'s address: ask Smotreshka support to allow it'
        : '';
    add('platform', 'fail', `${config.smotreshka.url}: ${(err as Error).message}${hint}`);
  }

  // 3. the mapping between the billing's services and the platform's subscriptions
  if (billingUp && !checks.some((c) => c.name === 'LANBilling tables' && c.status === 'fail')) {
    const uuids = await tvCategoryUuids(knex);
    if (uuids.length === 0) add('service mapping', 'warn', 'no service_categories row has a uuid: no billing service maps to a Smotreshka subscription yet');
    else if (catalogue) {
      const unknown = uuids.filter((u) => !catalogue!.has(u.uuid));
      add(
        'service mapping',
        unknown.length ? 'fail' : 'ok',
        unknown.length
          ? `service_categories.uuid not in the platform catalogue: ${unknown.map((u) => `"${u.uuid}" (${u.tariffs} tariffs)`).join(', ')}`
          : `${uuids.length} subscription ids used by the billing, all known to the platform`,
      );
    }
    try {
      const parked = await app.store.listParked(5);
      const [{ n }] = (await knex(app.store.parked).count({ n: '*' })) as [{ n: number | string }];
      add(
        'parked accounts',
        Number(n) ? 'warn' : 'ok',
        Number(n)
          ? `${n} parked, e.g. ${parked.map((p) => `vg ${p.vgId}: ${p.reason} (${p.detail.slice(0, 80)})`).join('; ')} — fix and run \`sync --account\``
          : 'none',
      );
    } catch {
      // own tables missing: already reported above
    }
  }

  // 4. capture: trigger mode's triggers and their definer; debezium mode's connector, Kafka, and
  //    messages the consumer could not read
  if (billingUp && config.capture.mode === 'triggers') checks.push(...(await triggerChecks(app)));
  if (billingUp && config.capture.mode === 'debezium') checks.push(...(await debeziumChecks(app)));
  return checks;
}

/** Why this server can't carry the configured capture mode (null = it can). */
function serverRefusal(server: { product: string; version: string }, mode: 'triggers' | 'debezium'): string | null {
  const v =
    server.product === 'PostgreSQL'
      ? parsePgVersionText(server.version)
      : parseMysqlVersion(`${server.version}-${server.product}`);
  if (!v) return null;
  return captureRefusal(v) ?? (mode === 'debezium' ? debeziumRefusal(v) : null);
}

function parsePgVersionText(version: string): ServerVersion | null {
  const m = /^(\d+)(?:\.(\d+))?/.exec(version);
  return m ? { flavour: 'postgresql', major: Number(m[1]), minor: Number(m[2] ?? 0), patch: 0 } : null;
}
