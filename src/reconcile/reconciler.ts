// Reconciles accounts: reads the billing, computes the desired state, applies the plan, and keeps
// the service's own tables (mapping, last state, timers, parked accounts) up to date. Used by
// `sync` and, one account at a time, by the propagation queue.
import { needsReattach } from '../billing/reattach-plan.js';
import type { AccountState } from '../billing/types.js';
import type { Logger } from '../log.js';
import type { AccountIdMode, PlatformApi } from '../smotreshka/api.js';
import type { StateStore } from '../state/store.js';
import { type AccountOutcome, applyAccount } from './apply.js';
import { type DesiredAccount, type DesiredOptions, desiredState, platformUsername } from './desired.js';
import type { ActualAccount } from './plan.js';
import { type PlatformChangesPolicy, platformSideFor } from './platform-changes.js';

/** The read side of the billing that reconciling needs (src/billing/read.ts implements it). */
export interface AccountSource {
  loadAccount(vgId: number, at: Date): Promise<AccountState | null>;
  loadAccounts(vgIds: number[], at: Date): Promise<AccountState[]>;
  pageAccounts(afterVgId: number, limit: number, at: Date): Promise<AccountState[]>;
  vgIdsByLogin(logins: string[]): Promise<Map<string, number[]>>;
  countAccounts(): Promise<number>;
}

export interface ReconcilerOptions extends DesiredOptions {
  idMode: AccountIdMode;
  /** how long the platform's catalogue is trusted before it is read again */
  catalogueTtlMs?: number;
  /** `smotreshka.platformChanges`: whether a reconcile undoes changes made on the platform (default mirror: it doesn't) */
  platformChanges?: PlatformChangesPolicy;
}

export interface ReconcileOptions {
  dryRun?: boolean;
  /** where the change came from, kept with a park record (e.g. topic/partition/offset) */
  source?: string | null;
  /** the platform's account as already read (bulk path); undefined = read it here */
  actual?: ActualAccount | null;
  /**
   * `sync`: also re-enable what was switched off on the platform (billing → platform);
   * `recover`: the previous run was interrupted, converge everything (see platformSideFor)
   */
  purpose?: 'propagate' | 'sync' | 'recover';
}

export class Reconciler {
  private catalogueCache: { at: number; ids: Set<string> | null } | null = null;
  /** running totals for /metrics */
  readonly stats = { reconciles: 0, parked: 0, calls: { create: 0, enable: 0, disable: 0, state: 0 } as Record<string, number> };

  constructor(
    readonly deps: {
      billing: AccountSource;
      store: StateStore;
      platform: PlatformApi;
      options: ReconcilerOptions;
      logger: Logger;
      now?: () => Date;
      /** re-assigns TV services after a tariff switch; true when it wrote something */
      reattach?: (vgId: number, at: Date) => Promise<boolean>;
    },
  ) {}

  get policy(): PlatformChangesPolicy {
    return this.deps.options.platformChanges ?? 'mirror';
  }

  now(): Date {
    return this.deps.now ? this.deps.now() : new Date();
  }

  /** The platform's catalogue; null when it can't be read (then every id is tried and errors tell). */
  async catalogue(): Promise<ReadonlySet<string> | null> {
    const ttl = this.deps.options.catalogueTtlMs ?? 60_000;
    const c = this.catalogueCache;
    if (c && Date.now() - c.at < ttl) return c.ids;
    let ids: Set<string> | null = null;
    try {
      ids = new Set((await this.deps.platform.listSubscriptions()).map((s) => String(s.id)));
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'cannot read the platform catalogue; subscription ids are not checked');
    }
    this.catalogueCache = { at: Date.now(), ids };
    return ids;
  }

  desired(account: AccountState, at: Date): DesiredAccount {
    return desiredState(account, at, this.deps.options);
  }

  /** Reconciles one account now: the propagation path and `sync --account`. */
  async reconcile(vgId: number, opts: ReconcileOptions = {}): Promise<AccountOutcome> {
    const at = this.now();
    let [account, record] = await Promise.all([this.deps.billing.loadAccount(vgId, at), this.deps.store.get(vgId)]);
    // Layout 2: after a tariff switch the TV services follow the vgroup to its new tariff before
    // the platform is compared, so the subscriber keeps them and the platform sees no flap. The
    // check is on the account's data (not the event), so a coalesced burst can't hide the switch.
    if (account && this.deps.reattach && !opts.dryRun && needsReattach(account, at)) {
      if (await this.deps.reattach(vgId, at)) account = await this.deps.billing.loadAccount(vgId, at);
    }
    const desired = account ? this.desired(account, at) : this.vanished(vgId, record?.username ?? '', record?.state?.balance ?? 0);
    if (!account && !record) {
      return { vgId, username: '', found: [], made: [], remaining: [], record: null, park: null };
    }
    return this.applyDesired(desired, record, opts);
  }

  /** Applies a computed desired state and records the result: shared by the single and bulk paths. */
  async applyDesired(
    desired: DesiredAccount,
    record: Awaited<ReturnType<StateStore['get']>>,
    opts: ReconcileOptions,
  ): Promise<AccountOutcome> {
    const { store, platform, logger } = this.deps;
    const outcome = await applyAccount(
      {
        platform,
        idMode: this.deps.options.idMode,
        catalogue: await this.catalogue(),
        now: () => this.now().getTime(),
        logger,
        dryRun: opts.dryRun ?? false,
        ownerOf: (platformId) => store.ownerOf(platformId, desired.vgId),
        platformSide: platformSideFor(this.policy, opts.purpose ?? 'propagate'),
      },
      desired,
      record,
      opts.actual,
    );
    if (opts.dryRun) return outcome;
    this.stats.reconciles++;
    if (outcome.park) this.stats.parked++;
    for (const c of outcome.made) this.stats.calls[c.op] = (this.stats.calls[c.op] ?? 0) + 1;
    if (outcome.record) await store.save([outcome.record]);
    if (outcome.park) await store.park(desired.vgId, outcome.park.reason, outcome.park.detail, opts.source ?? null);
    else await store.unpark([desired.vgId]);
    if (outcome.made.length > 0) {
      logger.info(
        { vgId: desired.vgId, username: desired.username, calls: outcome.made.map(describeCall) },
        'platform updated',
      );
    }
    return outcome;
  }

  /** A vgroup row that no longer exists: switch its TV off, keep the platform account. */
  private vanished(vgId: number, username: string, balance: number): DesiredAccount {
    return {
      vgId,
      username,
      email: '',
      entitled: false,
      subscriptions: [],
      state: { balance, status: 'other', tvSuspended: true },
      nextTransition: null,
      issues: [],
    };
  }

  usernameOf(login: string): string {
    return platformUsername(this.deps.options.usernamePrefix, login);
  }
}

export function describeCall(c: AccountOutcome['made'][number]): string {
  switch (c.op) {
    case 'create':
      return `create ${c.username}${c.purchases.length ? ` with ${c.purchases.join(',')}` : ''}`;
    case 'enable':
      return `enable ${c.subscriptionId}`;
    case 'disable':
      return `disable ${c.subscriptionId}`;
    case 'state':
      return `state ${c.state.status} balance=${c.state.balance}`;
  }
}
