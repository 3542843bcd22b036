// What a reconcile found different between the billing and the platform, in an operator's words.
// Dry-run reports these; a real run reports what is left after converging.
import type { AccountIssue } from './desired.js';
import type { PlannedCall } from './plan.js';

export type DiscrepancyKind =
  /** the billing wants a platform account that doesn't exist */
  | 'account_missing'
  /** the billing has a subscription in force that the platform lacks */
  | 'subscription_missing'
  /** the platform has a subscription the billing doesn't give */
  | 'subscription_extra'
  /** the account state (balance, block) on the platform isn't the billing's */
  | 'state_outdated'
  /** a platform account whose username matches no billing account */
  | 'platform_only_account'
  /** the billing says something the platform can't express */
  | 'mapping'
  /** the billing contradicts itself (two basics in force) */
  | 'conflict'
  /** a platform call failed */
  | 'error'
  /** a subscription switched on on the platform itself (the platform scan's business) */
  | 'switched_on_platform'
  /** a subscription this service applied, still in force in the billing, switched off on the platform */
  | 'switched_off_platform';

/**
 * Which side holds what the other lacks. `platform_side`: changed on the platform itself, the other
 * direction (platform → billing) that the platform scan and `sync --from-platform` deal with.
 */
export type Direction = 'billing_only' | 'platform_only' | 'platform_side' | 'mapping' | 'conflict' | 'error';

export interface Discrepancy {
  vgId: number | null;
  username: string;
  kind: DiscrepancyKind;
  direction: Direction;
  detail: string;
}

export function directionOf(kind: DiscrepancyKind): Direction {
  switch (kind) {
    case 'account_missing':
    case 'subscription_missing':
    case 'state_outdated':
      return 'billing_only';
    case 'subscription_extra':
    case 'platform_only_account':
      return 'platform_only';
    case 'mapping':
      return 'mapping';
    case 'conflict':
      return 'conflict';
    case 'error':
      return 'error';
    case 'switched_on_platform':
    case 'switched_off_platform':
      return 'platform_side';
  }
}

export function discrepancy(vgId: number | null, username: string, kind: DiscrepancyKind, detail: string): Discrepancy {
  return { vgId, username, kind, direction: directionOf(kind), detail };
}

export function fromCall(vgId: number, username: string, call: PlannedCall): Discrepancy {
  switch (call.op) {
    case 'create':
      return discrepancy(
        vgId,
        username,
        'account_missing',
        call.purchases.length ? `no platform account; billing has ${call.purchases.join(', ')}` : 'no platform account',
      );
    case 'enable':
      return discrepancy(vgId, username, 'subscription_missing', `subscription ${call.subscriptionId} is not active on the platform`);
    case 'disable':
      return discrepancy(vgId, username, 'subscription_extra', `subscription ${call.subscriptionId} is active on the platform only`);
    case 'state': {
      const s = call.state;
      return discrepancy(
        vgId,
        username,
        'state_outdated',
        `account state to push: ${s.status}${s.tvSuspended ? ' (TV suspended)' : ''}, balance ${(s.balance / 100).toFixed(2)}`,
      );
    }
  }
}

export function fromIssue(vgId: number, username: string, issue: AccountIssue): Discrepancy {
  switch (issue.kind) {
    case 'two_basics':
      return discrepancy(
        vgId,
        username,
        'conflict',
        `basic services ${issue.serviceIds.join(', ')} are in force at once; service ${issue.kept} (the latest) is applied`,
      );
    case 'missing_category':
      return discrepancy(vgId, username, 'mapping', `service ${issue.serviceId} has no service_categories row`);
    case 'unknown_block_code':
      return discrepancy(vgId, username, 'mapping', `unknown block code ${issue.code}: treated as suspended`);
    case 'invalid_username':
      return discrepancy(vgId, username, 'mapping', `"${issue.username}" is not a valid platform username`);
    case 'unknown_subscription':
      return discrepancy(
        vgId,
        username,
        'mapping',
        `service_categories.uuid "${issue.subscriptionId}" is not a subscription in the platform's catalogue`,
      );
  }
}
