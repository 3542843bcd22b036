// Every migration in order. Listed statically (not discovered from the folder) so that the built
// package and the TypeScript sources behave the same.
import { accountState } from './001_account_state.js';
import { propagation } from './002_propagation.js';
import { upsale } from './003_upsale.js';
import { platformScan } from './004_platform_scan.js';
import { debeziumCapture } from './005_debezium_capture.js';
import { upsaleBinding } from './006_upsale_binding.js';
import { typedChangelog } from './007_typed_changelog.js';
import type { Migration } from './types.js';

export const migrations: Migration[] = [
  accountState,
  propagation,
  upsale,
  platformScan,
  debeziumCapture,
  upsaleBinding,
  typedChangelog,
];
export type { Migration, MigrationContext } from './types.js';
