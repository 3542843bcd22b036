// Re-attach after a tariff switch: reads what planReattach needs under the vgroup's row lock and
// applies the plan in the same transaction. Called by propagation when it sees vgroups.tar_id
// change; safe to call at any time and any number of times: once the strays are stopped at T,
// nothing is left to do.
import type { Knex } from 'knex';
import { type HeldService, planReattach } from './reattach-plan.js';
import { sqlDateTime } from './sql-time.js';
import { int, money, textOrNull, windowEnd, windowStart } from './values.js';
import { closeService, insertService, withVgroupLocked } from './write.js';

export interface ReattachResult {
  vgId: number;
  /** the tariff the services now sit on */
  tarId: number;
  /** the instant the moved services were stopped and continued (whole seconds) */
  at: Date;
  moved: { fromServiceId: number; toServiceId: number; uuid: string }[];
  closed: { serviceId: number; uuid: string; reason: 'not_offered' | 'already_attached' }[];
}

function heldService(r: Record<string, unknown>): HeldService {
  return {
    serviceId: int(r.service_id, 'services.service_id'),
    tarId: int(r.tar_id, 'services.tar_id'),
    servCatIdx: int(r.serv_cat_idx, 'services.serv_cat_idx'),
    uuid: String(r.uuid).trim(),
    timefrom: windowStart(r.timefrom, 'services.timefrom'),
    timeto: windowEnd(r.timeto, 'services.timeto'),
    state: int(r.state, 'services.state'),
    needCalc: int(r.need_calc, 'services.need_calc'),
    mul: money(r.mul, 'services.mul'),
    personId: r.person_id == null ? null : int(r.person_id, 'services.person_id'),
    comment: String(r.comment ?? ''),
    // not set (NULL, MySQL's zero date) = null; windowEnd reads it so
    activated: r.activated == null ? null : windowEnd(r.activated, 'services.activated'),
    externalData: textOrNull(r.external_data),
  };
}

/**
 * Moves the vgroup's Smotreshka services that sit on a tariff it no longer has onto its current
 * tariff (same uuid), stopping those the current tariff lacks, in one transaction. Answers what it
 * did (empty lists: nothing to do), or null when there is no such live vgroup.
 */
export async function reattachServices(knex: Knex, vgId: number, at: Date): Promise<ReattachResult | null> {
  return withVgroupLocked(knex, vgId, async (trx) => {
    const vgroup = await trx('vgroups').where({ vg_id: vgId }).first('tar_id');
    const tarId = int(vgroup.tar_id, 'vgroups.tar_id');
    const multis: { tar_id: unknown }[] = await trx('multitarifs').where({ vg_id: vgId }).distinct('tar_id');
    const when = sqlDateTime(at);
    const rows: Record<string, unknown>[] = await trx('services as s')
      .join('service_categories as sc', function joinCategory() {
        this.on('sc.tar_id', 's.tar_id').andOn('sc.serv_cat_idx', 's.serv_cat_idx');
      })
      .where('s.vg_id', vgId)
      .whereRaw("TRIM(sc.uuid) <> ''")
      // switched on (spec: state 0/2 are off, need_calc -1 is deleted)
      .whereNotIn('s.state', [0, 2])
      .whereNot('s.need_calc', -1)
      // ends after `at`; NULL and MySQL's zero date are "not set" = open (values.ts)
      .andWhere((w) =>
        w
          .where('s.timeto', '>', when)
          .orWhereNull('s.timeto')
          .orWhere('s.timeto', '<', '1000-01-01 00:00:00'),
      )
      .select(
        's.service_id',
        's.tar_id',
        's.serv_cat_idx',
        'sc.uuid',
        's.timefrom',
        's.timeto',
        's.state',
        's.need_calc',
      )
      .select('s.mul', 's.person_id', 's.comment', 's.activated', 's.external_data')
      .orderBy('s.service_id');
    const categories: { serv_cat_idx: unknown; uuid: unknown }[] = await trx('service_categories')
      .where({ tar_id: tarId, enabled: 1, archive: 0 })
      .whereRaw("TRIM(uuid) <> ''")
      .select('serv_cat_idx', 'uuid');

    const plan = planReattach({
      vgId,
      tarId,
      multitariffTarIds: multis.map((m) => int(m.tar_id, 'multitarifs.tar_id')),
      services: rows.map(heldService),
      targetCategories: categories.map((c) => ({
        servCatIdx: int(c.serv_cat_idx, 'service_categories.serv_cat_idx'),
        uuid: String(c.uuid).trim(),
      })),
      at,
    });

    const result: ReattachResult = {
      vgId,
      tarId,
      at: new Date(Math.floor(at.getTime() / 1000) * 1000),
      moved: [],
      closed: [],
    };
    for (const m of plan.moves) {
      // closed and continued at the same instant: no moment without the subscription
      if (!(await closeService(trx, m.from.serviceId, m.closeAt))) continue;
      const toServiceId = await insertService(trx, m.to, at);
      result.moved.push({ fromServiceId: m.from.serviceId, toServiceId, uuid: m.from.uuid });
    }
    for (const c of plan.closes) {
      if (await closeService(trx, c.service.serviceId, c.closeAt)) {
        result.closed.push({ serviceId: c.service.serviceId, uuid: c.service.uuid, reason: c.reason });
      }
    }
    return result;
  });
}
