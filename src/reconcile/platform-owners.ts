// Whose is a platform account, and what does the billing say about it: the bridge between a page
// of `GET /v2/accounts` and the pure decision (platform-changes.ts). Shared by the platform scan
// and by `sync`'s report of platform-side changes.

import type { TariffCategory, TariffCategoryCache } from '../billing/offers.js';
import type { BillingReader } from '../billing/read.js';
import { type AccountState, ServiceType } from '../billing/types.js';
import type { AccountRecord, StateStore } from '../state/store.js';
import { applicableTariffs } from '../upsale/decide.js';
import { type DesiredAccount, type DesiredOptions, desiredState } from './desired.js';
import type { BillingSide, OfferedCategory, Owner } from './platform-changes.js';

/** A platform account as the scan read it. */
export interface SeenOnPlatform {
  id: string;
  username: string;
  subscriptions: string[];
}

/** A platform account with what the billing and the service's own tables know of it. */
export interface Resolved {
  platform: SeenOnPlatform;
  owner: Owner;
  /** the mapping record, when this service has one for the owner */
  record: AccountRecord | null;
  /** the owner's billing account and desired state (owner.kind === 'account') */
  account: AccountState | null;
  desired: DesiredAccount | null;
}

/**
 * The billing side of one account: its desired state, and which subscriptions its applicable
 * tariffs offer (main tariff and multitarifs in force: the same rule upsale sells by).
 */
export function billingSideOf(
  account: AccountState,
  desired: DesiredAccount,
  categoriesByTariff: ReadonlyMap<number, readonly TariffCategory[]>,
  at: Date,
): BillingSide {
  const offers = new Map<string, OfferedCategory[]>();
  const basics = new Set<string>();
  for (const tarId of applicableTariffs(account, at)) {
    for (const c of categoriesByTariff.get(tarId) ?? []) {
      const basic = c.serviceType === ServiceType.basic;
      if (basic) basics.add(c.uuid);
      const list = offers.get(c.uuid) ?? [];
      list.push({
        tarId: c.tarId,
        servCatIdx: c.servCatIdx,
        basic,
        forSale: c.enabled && c.available && !c.archive,
      });
      offers.set(c.uuid, list);
    }
  }
  for (const s of account.services)
    if (s.serviceType === ServiceType.basic && s.uuid) basics.add(s.uuid.trim());
  return {
    vgId: account.vgId,
    desired: desired.subscriptions,
    suspended: desired.state.tvSuspended,
    mainTarId: account.tarId,
    offers,
    basics,
  };
}

export interface OwnerDeps {
  billing: BillingReader;
  store: StateStore;
  usernamePrefix: string;
  desired: DesiredOptions;
}

/**
 * Finds the billing account of each platform account: first by the mapping this service keeps
 * (platform id → vg_id), then by username = prefix + login. A login is unique per agent only, so
 * several vgroups may carry it: one that is mapped elsewhere is not it, and of the rest the one
 * entitled to TV is; any other tie is `ambiguous` and never acted on.
 */
export async function resolveOwners(
  deps: OwnerDeps,
  page: readonly SeenOnPlatform[],
  at: Date,
  categories: TariffCategoryCache,
): Promise<Resolved[]> {
  const records = await deps.store.byPlatformIds(page.map((p) => p.id));
  const unmapped = page.filter((p) => !records.has(p.id));
  const byLogin = await deps.billing.vgIdsByLogin(
    unmapped.map((p) => p.username.slice(deps.usernamePrefix.length)),
  );
  const candidateIds = [...new Set([...byLogin.values()].flat())];
  const candidateRecords = await deps.store.getMany(candidateIds);
  const vgIds = [...new Set([...[...records.values()].map((r) => r.vgId), ...candidateIds])];
  const accounts = new Map((await deps.billing.loadAccounts(vgIds, at)).map((a) => [a.vgId, a]));
  const desired = new Map([...accounts.values()].map((a) => [a.vgId, desiredState(a, at, deps.desired)]));

  const tariffs = [...accounts.values()].flatMap((a) => applicableTariffs(a, at));
  const byTariff = await categories.of(tariffs);

  return page.map((p): Resolved => {
    const record = records.get(p.id) ?? null;
    let vgId: number | null = record?.vgId ?? null;
    if (record === null) {
      const candidates = (byLogin.get(p.username.slice(deps.usernamePrefix.length)) ?? []).filter((id) => {
        const other = candidateRecords.get(id)?.platformId;
        return accounts.has(id) && (other === undefined || other === null || other === p.id);
      });
      const entitled = candidates.filter((id) => desired.get(id)?.entitled);
      if (candidates.length > 1 && entitled.length !== 1) {
        return { platform: p, owner: { kind: 'ambiguous' }, record: null, account: null, desired: null };
      }
      vgId = candidates.length === 1 ? candidates[0]! : (entitled[0] ?? null);
    }
    const account = vgId === null ? undefined : accounts.get(vgId);
    const wants = vgId === null ? undefined : desired.get(vgId);
    if (account === undefined || wants === undefined) {
      // no vgroup by that login, or the mapped vgroup is gone: the billing doesn't know the account
      return { platform: p, owner: { kind: 'unknown' }, record, account: null, desired: null };
    }
    return {
      platform: p,
      owner: { kind: 'account', billing: billingSideOf(account, wants, byTariff, at) },
      record: record ?? candidateRecords.get(account.vgId) ?? null,
      account,
      desired: wants,
    };
  });
}
