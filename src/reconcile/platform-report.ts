// Platform-side changes in `sync`'s report: the other direction (platform → billing), listed apart
// from what sync itself does, so an operator sees both before choosing between `sync` (the billing
// wins) and `sync --from-platform --apply` (the platform's changes are taken over, by policy).
import type { TariffCategory } from '../billing/offers.js';
import type { AccountState } from '../billing/types.js';
import type { DesiredAccount } from './desired.js';
import { type Discrepancy, discrepancy } from './discrepancy.js';
import {
  decidePlatformChanges,
  type PlatformChange,
  type PlatformChangesPolicy,
} from './platform-changes.js';
import { billingSideOf } from './platform-owners.js';

export interface PlatformSideInput {
  account: AccountState;
  desired: DesiredAccount;
  /** what this service counts as applied (StateStore) */
  applied: readonly string[] | null;
  platform: { id: string; username: string; subscriptions: readonly string[] };
  categoriesByTariff: ReadonlyMap<number, readonly TariffCategory[]>;
  policy: PlatformChangesPolicy;
  at: Date;
}

const WHAT_SCAN_DOES: Record<PlatformChange['action'], string> = {
  close: 'the platform scan closes the service in the billing',
  assign: 'the platform scan assigns it in the billing',
  enable: 'reverted: enabled again on the platform',
  disable: 'reverted: disabled on the platform',
  report: 'reported only',
};

const WHY: Record<PlatformChange['reason'], string> = {
  stopped_on_platform: 'in force in the billing',
  offered: "the account's tariffs sell it",
  not_offered: "not for sale on the account's tariffs",
  second_basic: 'a second basic subscription',
  suspended: "the account's TV is suspended in the billing",
  unknown_account: 'no billing account',
  ambiguous_account: 'several billing accounts could be it',
};

export function platformSideDiscrepancies(i: PlatformSideInput): Discrepancy[] {
  const billing = billingSideOf(i.account, i.desired, i.categoriesByTariff, i.at);
  const changes = decidePlatformChanges(
    {
      platformId: i.platform.id,
      username: i.platform.username,
      owner: { kind: 'account', billing },
      applied: i.applied,
      platform: i.platform.subscriptions,
      previous: null,
      seenAt: i.at,
    },
    i.policy,
  );
  return changes.map((c) =>
    discrepancy(
      i.account.vgId,
      i.desired.username,
      c.seen === 'switched_on' ? 'switched_on_platform' : 'switched_off_platform',
      `subscription ${c.subscriptionId} ${c.seen === 'switched_on' ? 'switched on' : 'switched off'} on the platform ` +
        `(${WHY[c.reason]}); ${i.policy}: ${WHAT_SCAN_DOES[c.action]}`,
    ),
  );
}
