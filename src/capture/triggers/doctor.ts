// `doctor` in trigger mode: the change log and every capture trigger (and PostgreSQL function) in
// place and as `migrate` installed them, and on MySQL/MariaDB the slots the triggers took and
// whether their DEFINER still exists and holds what they need.
import {
  captureNames,
  describeInspection,
  inspectTriggerCapture,
} from '../../../migrations/capture/index.js';
import { captureTriggersMysql } from '../../../migrations/capture/mysql.js';
import type { App } from '../../app.js';
import type { Check } from '../../ops/doctor.js';
import { checkDefiners, describeDefiners } from './checks.js';

export async function triggerChecks(app: App): Promise<Check[]> {
  const { knex, migration: ctx } = app;
  const n = captureNames(ctx.prefix);
  const out: Check[] = [];
  try {
    const problems = describeInspection(await inspectTriggerCapture(knex, ctx), ctx);
    let detail = `${n.changes} and ${n.triggers().length} triggers in place, as installed`;
    if (ctx.dialect === 'mysql' && problems.length === 0) {
      const before = (await captureTriggersMysql(knex, n)).filter((t) => t.timing === 'BEFORE');
      if (before.length > 0)
        detail += `; in BEFORE slots (the AFTER ones are held by other triggers on this server): ${before.map((t) => t.name).join(', ')}`;
    }
    out.push({
      name: 'capture triggers',
      status: problems.length ? 'fail' : 'ok',
      detail: problems.length ? problems.join('; ') : detail,
    });
  } catch (err) {
    out.push({
      name: 'capture triggers',
      status: 'fail',
      detail: `cannot inspect: ${(err as Error).message}`,
    });
  }
  if (ctx.dialect === 'mysql') {
    try {
      const report = await checkDefiners(knex, ctx);
      const { fail, warn } = describeDefiners(report);
      const who = report.definers.map((d) => d.definer).join(', ');
      out.push({
        name: 'capture trigger definer',
        status: fail.length ? 'fail' : warn.length ? 'warn' : 'ok',
        detail:
          [...fail, ...warn].join('; ') ||
          (who
            ? `${who} exists and holds INSERT on ${n.changes}, SELECT and TRIGGER on the captured tables`
            : 'no capture trigger installed'),
      });
    } catch (err) {
      out.push({
        name: 'capture trigger definer',
        status: 'warn',
        detail: `cannot check: ${(err as Error).message}`,
      });
    }
  }
  return out;
}
