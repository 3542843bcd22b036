// Re-attach after a tariff switch: reads what planReattach needs under the vgroup's row lock and
// applies the plan in the same transaction. Called by propagation when it sees vgroups.tar_id
// change; safe to call at any time and any number of times: once the strays are stopped at T,
// nothing is left to do.
import type { Knex } from 'knex';
import type { BillingClock } from './clock.js';
import { type HeldService, planReattach } from './reattach-plan.js';
import { int, money, textOrNull, windowEnd, windowStart } from './values.js';
import { closeService, insertService, stillOpenAfter, withVgroupLocked } from './write.js';

export interface ReattachResult {
  vgId: number;
  /** the tariff the services now sit on */
  tarId: number;
  /** the instant the moved services were stopped and continued (whole seconds) */
  at: Date;
  moved: { fromServiceId: number; toServiceId: number; uuid: string }[];
  closed: { serviceId: number; uuid: string; reason: 'not_offered' | 'already_attached' }[];
}

function heldService(r: Record<string, unknown>, clock: BillingClock): HeldService {
  return {
    serviceId: int(r.service_id, 'services.service_id'),
    tarId: int(r.tar_id, 'services.tar_id'),
    servCatIdx: int(r.serv_cat_idx, 'services.serv_cat_idx'),
    uuid: String(r.uuid).trim(),
    timefrom: windowStart(r.timefrom, 'services.timefrom', clock),
    timeto: windowEnd(r.timeto, 'services.timeto', clock),
    state: int(r.state, 'services.state'),
    needCalc: int(r.need_calc, 'services.need_calc'),
    mul: money(r.mul, 'services.mul'),
    personId: r.person_id == null ? null : int(r.person_id, 'services.person_id'),
    comment: String(r.comment ?? ''),
    // not set (the zero date, NULL) = null: the copy leaves it to the column's default too
    activated: clock.fromWall(r.activated, 'services.activated'),
    // '' (the real schema's default) = none
    externalData: textOrNull(r.external_data) || null,
  };
}

/**
 * Moves the vgroup's Smotreshka services that sit on a tariff it no longer has onto its current
 * tariff (same uuid), stopping those the current tariff lacks, in one transaction. Answers what it
 * did (empty lists: nothing to do), or null when there is no such live vgroup.
 */
export async function reattachServices(
  knex: Knex,
  vgId: number,
  at: Date,
  clock: BillingClock,
): Promise<ReattachResult | null> {
  return withVgroupLocked(knex, vgId, async (trx) => {
    const vgroup = await trx('vgroups').where({ vg_id: vgId }).first('tar_id');
    const tarId = int(vgroup.tar_id, 'vgroups.tar_id');
    const multis: { tar_id: unknown }[] = await trx('multitarifs').where({ vg_id: vgId }).distinct('tar_id');
    const when = clock.toWall(at);
    const rows: Record<string, unknown>[] = await trx('services as s')
      .join('service_categories as sc', function joinCategory() {
        this.on('sc.tar_id', 's.tar_id').andOn('sc.serv_cat_idx', 's.serv_cat_idx');
      })
      .where('s.vg_id', vgId)
      .whereRaw("TRIM(sc.uuid) <> ''")
      // switched on (spec: state 0/2 are off, need_calc -1 is deleted)
      .whereNotIn('s.state', [0, 2])
      .whereNot('s.need_calc', -1)
      // ends after `at` (or is not set: open)
      .andWhere((w) => stillOpenAfter(w, when, 's.timeto'))
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
      services: rows.map((r) => heldService(r, clock)),
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
      if (!(await closeService(trx, m.from.serviceId, m.closeAt, clock))) continue;
      const toServiceId = await insertService(trx, m.to, clock);
      result.moved.push({ fromServiceId: m.from.serviceId, toServiceId, uuid: m.from.uuid });
    }
    for (const c of plan.closes) {
      if (await closeService(trx, c.service.serviceId, c.closeAt, clock)) {
        result.closed.push({ serviceId: c.service.serviceId, uuid: c.service.uuid, reason: c.reason });
      }
    }
    return result;
  });
}
