// Acting on one account's platform-side changes: `mirror` writes them into the billing (one
// transaction, the vgroups row locked, the decision taken again on what the billing holds under
// the lock), `revert` undoes them on the platform. Then the service's own record of what it
// applied is brought in line, so the account's next reconcile finds nothing to call: no echo.
import type { Knex } from 'knex';
import type { BillingClock } from '../billing/clock.js';
import { tvCategoriesOf } from '../billing/offers.js';
import { assignSwitchedOn, closeSwitchedOff } from '../billing/platform-writes.js';
import { billingReader } from '../billing/read.js';
import type { AccountState, AssignedService } from '../billing/types.js';
import { withVgroupLocked } from '../billing/write.js';
import type { Logger } from '../log.js';
import { type AccountIdMode, accountRef, type PlatformApi } from '../smotreshka/api.js';
import type { StateStore } from '../state/store.js';
import { applicableTariffs } from '../upsale/decide.js';
import { type DesiredOptions, desiredState } from './desired.js';
import { appliedAfter } from './plan.js';
import {
  type AccountObservation,
  decidePlatformChanges,
  type PlatformChange,
  type PlatformChangesPolicy,
} from './platform-changes.js';
import { billingSideOf, type Resolved } from './platform-owners.js';

export interface WriteBackDeps {
  knex: Knex;
  /** the billing's wall clock: what is read and written (billing/clock.ts) */
  clock: BillingClock;
  store: StateStore;
  platform: PlatformApi;
  idMode: AccountIdMode;
  desired: DesiredOptions;
  policy: PlatformChangesPolicy;
  logger: Logger;
  now: () => Date;
}

/** What the scan found for one platform account. */
export interface Found {
  resolved: Resolved;
  observation: AccountObservation;
  changes: PlatformChange[];
}

export interface WriteBackResult {
  closed: { subscriptionId: string; serviceIds: number[] }[];
  assigned: { subscriptionId: string; serviceId: number }[];
  enabled: string[];
  disabled: string[];
}

const BILLING_ACTIONS = new Set(['close', 'assign']);

/** Whole seconds, as the billing keeps them. */
function second(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** Whether this one services row gives the account the subscription at t, in the core's words. */
function gives(
  account: AccountState,
  row: AssignedService,
  id: string,
  t: Date,
  opts: DesiredOptions,
): boolean {
  return (
    row.uuid?.trim() === id &&
    desiredState({ ...account, services: [row] }, t, opts).subscriptions.includes(id)
  );
}

/** Acts on the chosen changes of one account. Platform refusals throw; the caller reports them. */
export async function writeBack(
  deps: WriteBackDeps,
  found: Found,
  chosen: (c: PlatformChange) => boolean,
): Promise<WriteBackResult> {
  const result: WriteBackResult = { closed: [], assigned: [], enabled: [], disabled: [] };
  const picked = found.changes.filter(chosen);
  if (picked.some((c) => BILLING_ACTIONS.has(c.action))) await writeBilling(deps, found, picked, result);
  await revertOnPlatform(deps, found, picked, result);
  return result;
}

async function writeBilling(
  deps: WriteBackDeps,
  found: Found,
  picked: PlatformChange[],
  result: WriteBackResult,
): Promise<void> {
  const owner = found.observation.owner;
  if (owner.kind !== 'account') return;
  const vgId = owner.billing.vgId;
  const wanted = new Map(picked.filter((c) => BILLING_ACTIONS.has(c.action)).map((c) => [c.key, c.action]));
  const record = await deps.store.get(vgId);
  const appliedBefore = record?.subscriptions ?? null;

  const written = await withVgroupLocked(deps.knex, vgId, async (trx) => {
    const now = deps.now();
    const reader = billingReader(trx, deps.clock);
    const account = await reader.loadAccount(vgId, now);
    if (!account) return null;
    // The decision again, on what the billing holds now that nobody else can write the account:
    // only what still holds is written (a manager may have stopped the service meanwhile).
    const billing = billingSideOf(
      account,
      desiredState(account, now, deps.desired),
      await tvCategoriesOf(trx, applicableTariffs(account, now)),
      now,
    );
    const fresh = decidePlatformChanges(
      { ...found.observation, owner: { kind: 'account', billing }, applied: appliedBefore },
      deps.policy,
    ).filter((c) => wanted.get(c.key) === c.action);
    const closed: WriteBackResult['closed'] = [];
    const assigned: WriteBackResult['assigned'] = [];
    for (const c of fresh.filter((x) => x.action === 'close')) {
      const ids: number[] = [];
      for (const row of account.services.filter((s) =>
        gives(account, s, c.subscriptionId, now, deps.desired),
      )) {
        // stopped when it was first seen gone, never before the row's own start
        const at = second(new Date(Math.max(c.since.getTime(), row.timefrom.getTime())));
        // the note is for the billing's people: their own clock
        const note = `switched off on the Smotreshka platform, seen ${deps.clock.rfc3339(c.since)} (lbcore-lifestream)`;
        if (await closeSwitchedOff(trx, row.serviceId, at, note, deps.clock)) ids.push(row.serviceId);
      }
      if (ids.length > 0) closed.push({ subscriptionId: c.subscriptionId, serviceIds: ids });
    }
    for (const c of fresh.filter((x) => x.action === 'assign' && x.category !== null)) {
      const serviceId = await assignSwitchedOn(
        trx,
        {
          vgId,
          tarId: c.category!.tarId,
          servCatIdx: c.category!.servCatIdx,
          from: second(c.since),
          note: `switched on by the subscriber on the Smotreshka platform, seen ${deps.clock.rfc3339(c.since)} (lbcore-lifestream)`,
        },
        deps.clock,
      );
      assigned.push({ subscriptionId: c.subscriptionId, serviceId });
    }
    const after = await reader.loadAccount(vgId, now);
    return { closed, assigned, desiredAfter: after ? desiredState(after, now, deps.desired) : null };
  });
  if (!written) return;
  result.closed.push(...written.closed);
  result.assigned.push(...written.assigned);
  if (written.closed.length === 0 && written.assigned.length === 0) return;

  // What propagation will compare with: the platform already has what the billing now says, so
  // the account's reconcile (woken by the rows just written) finds nothing to call.
  const desiredAfter = written.desiredAfter?.subscriptions ?? [];
  const platform = found.resolved.platform;
  const latest = (await deps.store.get(vgId)) ?? record;
  await deps.store.save([
    {
      vgId,
      platformId: latest?.platformId ?? platform.id,
      username: latest?.username ?? platform.username,
      subscriptions: appliedAfter(
        desiredAfter,
        latest?.subscriptions ?? appliedBefore,
        platform.subscriptions,
      ),
      state: latest?.state ?? null,
      stateTs: latest?.stateTs ?? null,
      nextAt: latest?.nextAt ?? written.desiredAfter?.nextTransition ?? null,
    },
  ]);
  deps.logger.info(
    {
      vgId,
      username: platform.username,
      closed: written.closed.map((c) => `${c.subscriptionId} (services ${c.serviceIds.join(', ')})`),
      assigned: written.assigned.map((a) => `${a.subscriptionId} (service ${a.serviceId})`),
    },
    'platform-side change mirrored into the billing',
  );
}

/** Disables before enables: a basic switched back must free the slot first. */
async function revertOnPlatform(
  deps: WriteBackDeps,
  found: Found,
  picked: PlatformChange[],
  result: WriteBackResult,
): Promise<void> {
  const calls = [
    ...picked.filter((c) => c.action === 'disable'),
    ...picked.filter((c) => c.action === 'enable'),
  ];
  if (calls.length === 0) return;
  const p = found.resolved.platform;
  const ref = accountRef(deps.idMode, { id: p.id, username: p.username });
  for (const c of calls) {
    await deps.platform.setSubscription(ref, c.subscriptionId, c.action === 'enable');
    (c.action === 'enable' ? result.enabled : result.disabled).push(c.subscriptionId);
  }
  deps.logger.info(
    {
      username: p.username,
      vgId: found.resolved.account?.vgId ?? null,
      enabled: result.enabled,
      disabled: result.disabled,
    },
    'platform-side change reverted on the platform',
  );
}
