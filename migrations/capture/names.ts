// Names of the capture objects that `migrate` adds in trigger mode. One place, so that install,
// uninstall, the reader, doctor and an operator's `DROP` all agree. Every name starts with the
// configured prefix, and a trigger's name says which table and which operation it captures
// (e.g. `lifestream_services_upd`), so LANBilling's list of "alien" triggers reads plainly.
import { CAPTURED_TABLES, type CapturedTable } from '../../src/capture/types.js';

export type RowOp = 'ins' | 'upd' | 'del';
export const ROW_OPS: readonly RowOp[] = ['ins', 'upd', 'del'];
export const EVENT: Record<RowOp, 'INSERT' | 'UPDATE' | 'DELETE'> = {
  ins: 'INSERT',
  upd: 'UPDATE',
  del: 'DELETE',
};

/** the change log's `op` column */
export const OP_CODE: Record<RowOp, 'I' | 'U' | 'D'> = { ins: 'I', upd: 'U', del: 'D' };

export interface CaptureNames {
  /** the change log: one small typed row per changed key (see migrations/capture/README) */
  changes: string;
  /** the fingerprints of what `migrate` installed, to notice a dropped or altered trigger */
  objects: string;
  trigger(table: CapturedTable, op: RowOp): string;
  /** PostgreSQL: the statement-level trigger function of a table */
  captureFunction(table: CapturedTable): string;
  /** every trigger, with its table and operation */
  triggers(): { table: CapturedTable; op: RowOp; name: string }[];
  /** what the first release installed (JSON row images): upgraded by `migrate`, removed by --uninstall */
  v1: {
    changelog: string;
    captureFunction: string;
    notifyFunction: string;
    notifyTrigger(table: CapturedTable): string;
  };
}

export function captureNames(prefix: string): CaptureNames {
  const trigger = (table: CapturedTable, op: RowOp) => `${prefix}${table}_${op}`;
  return {
    changes: `${prefix}changes`,
    objects: `${prefix}capture_objects`,
    trigger,
    captureFunction: (table) => `${prefix}capture_${table}`,
    triggers: () =>
      CAPTURED_TABLES.flatMap((table) => ROW_OPS.map((op) => ({ table, op, name: trigger(table, op) }))),
    v1: {
      changelog: `${prefix}changelog`,
      captureFunction: `${prefix}capture`,
      notifyFunction: `${prefix}notify`,
      notifyTrigger: (table) => `${prefix}${table}_notify`,
    },
  };
}
