// The writes the platform scan makes into LANBilling when it mirrors a change made on the
// platform (src/reconcile/platform-writeback.ts): stopping a service the subscriber or a manager
// switched off there, and assigning one the subscriber switched on there. Both run inside
// withVgroupLocked (write.ts), like upsale's, and say in `services.comment` why the row changed.
import type { Knex } from 'knex';
import type { BillingClock } from './clock.js';
import { insertService, stillOpenAfter } from './write.js';

/** `services.comment` is varchar(255). */
const COMMENT_MAX = 255;

function withNote(comment: string, note: string): string {
  const joined = comment.trim() === '' ? note : `${comment.trim()}; ${note}`;
  // the note is the news: if the two don't fit, the old text gives way
  return joined.length <= COMMENT_MAX ? joined : note.slice(0, COMMENT_MAX);
}

/**
 * Stops a service at `at` (closes its `timeto`) and appends `note` to its comment, only when it
 * would still be in force after `at`: doing it twice changes nothing. Answers whether it changed.
 */
export async function closeSwitchedOff(
  trx: Knex.Transaction,
  serviceId: number,
  at: Date,
  note: string,
  clock: BillingClock,
): Promise<boolean> {
  const when = clock.toWall(at);
  const row: { comment?: unknown } | undefined = await trx('services')
    .where({ service_id: serviceId })
    .first('comment');
  if (!row) return false;
  const n = await trx('services')
    .where({ service_id: serviceId })
    .andWhere((w) => stillOpenAfter(w, when))
    .update({ timeto: when, comment: withNote(String(row.comment ?? ''), note) });
  return n === 1;
}

export interface SwitchedOn {
  vgId: number;
  tarId: number;
  servCatIdx: number;
  /** when the platform was first seen to have it: the subscriber has had it since */
  from: Date;
  note: string;
}

/**
 * Assigns a service as the subscriber's own action (person_id NULL, as the personal cabinet does),
 * open-ended, on and not yet activated: the billing core activates and charges it like any new
 * service. Answers the new service_id.
 */
export function assignSwitchedOn(trx: Knex.Transaction, s: SwitchedOn, clock: BillingClock): Promise<number> {
  return insertService(
    trx,
    {
      vgId: s.vgId,
      tarId: s.tarId,
      servCatIdx: s.servCatIdx,
      timefrom: s.from,
      timeto: null,
      mul: '1',
      personId: null,
      comment: s.note.slice(0, COMMENT_MAX),
      needCalc: 1,
      state: 1,
      // not activated yet: left to the column's default (the zero date)
      activated: null,
      externalData: 'lifestream:platform',
    },
    clock,
  );
}
