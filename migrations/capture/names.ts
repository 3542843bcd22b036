// Names of the capture objects that `migrate` adds in trigger mode. One place, so that install,
// uninstall, the reader and an operator's `DROP` all agree. Every name starts with the configured
// prefix, and a trigger's name says which table and which operation it captures
// (e.g. `lifestream_services_ins`), so LANBilling's list of "alien" triggers reads plainly.
import { CAPTURED_TABLES, type CapturedTable } from '../../src/capture/types.js';

export type RowOp = 'ins' | 'upd' | 'del';
export const ROW_OPS: readonly RowOp[] = ['ins', 'upd', 'del'];

export interface CaptureNames {
  /** the change-log table */
  changelog: string;
  /** PostgreSQL: the NOTIFY channel that wakes the reader */
  channel: string;
  /** PostgreSQL: the row trigger function and the statement-level notify function */
  captureFunction: string;
  notifyFunction: string;
  rowTrigger(table: CapturedTable, op: RowOp): string;
  /** PostgreSQL only */
  notifyTrigger(table: CapturedTable): string;
  /** every trigger name of the dialect, with its table */
  triggers(dialect: 'pg' | 'mysql'): { table: CapturedTable; name: string }[];
}

export function captureNames(prefix: string): CaptureNames {
  const rowTrigger = (table: CapturedTable, op: RowOp) => `${prefix}${table}_${op}`;
  const notifyTrigger = (table: CapturedTable) => `${prefix}${table}_notify`;
  return {
    changelog: `${prefix}changelog`,
    channel: `${prefix}changes`,
    captureFunction: `${prefix}capture`,
    notifyFunction: `${prefix}notify`,
    rowTrigger,
    notifyTrigger,
    triggers(dialect) {
      return CAPTURED_TABLES.flatMap((table) => [
        ...ROW_OPS.map((op) => ({ table, name: rowTrigger(table, op) })),
        ...(dialect === 'pg' ? [{ table, name: notifyTrigger(table) }] : []),
      ]);
    },
  };
}
