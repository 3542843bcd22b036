// Many accounts reconciled at once each ask the database the same small questions (their billing
// rows, their own record) and make the same small writes (the record, "not parked"). Round trips,
// not rows, are what costs: the queue starts its batch of reconciles in one turn of the event loop,
// so calls made in that turn are gathered here and sent as one IN-list query or one multi-row
// write. Each caller still gets its own answer, or the shared error. Nothing else changes: the
// Reconciler is handed these wrappers instead of the plain billing reader and state store.
import type { AccountState } from '../billing/types.js';
import type { AccountRecord, StateStore } from '../state/store.js';
import type { AccountSource } from './reconciler.js';

interface Waiter<K, V> {
  key: K;
  resolve(v: V): void;
  reject(err: unknown): void;
}

/** Gathers the keys asked for in one turn of the event loop and runs `load` once for them. */
export function gather<K, V>(load: (keys: K[]) => Promise<(key: K) => V>): (key: K) => Promise<V> {
  let waiting: Waiter<K, V>[] | null = null;
  const flush = async () => {
    const batch = waiting!;
    waiting = null;
    try {
      const answer = await load([...new Set(batch.map((w) => w.key))]);
      for (const w of batch) w.resolve(answer(w.key));
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  };
  return (key) =>
    new Promise<V>((resolve, reject) => {
      if (waiting === null) {
        waiting = [];
        setImmediate(() => void flush());
      }
      waiting.push({ key, resolve, reject });
    });
}

/** loadAccount calls of one turn become one loadAccounts (the first caller's `at`: they differ by ms). */
export function gatheredAccountSource(source: AccountSource): AccountSource {
  let at = new Date();
  const load = gather<number, AccountState | null>(async (vgIds) => {
    const found = new Map((await source.loadAccounts(vgIds, at)).map((a) => [a.vgId, a]));
    return (vgId) => found.get(vgId) ?? null;
  });
  return {
    loadAccount(vgId, when) {
      at = when;
      return load(vgId);
    },
    loadAccounts: (vgIds, when) => source.loadAccounts(vgIds, when),
    pageAccounts: (after, limit, when) => source.pageAccounts(after, limit, when),
    vgIdsByLogin: (logins) => source.vgIdsByLogin(logins),
    countAccounts: () => source.countAccounts(),
  };
}

/** The state store with get, save and unpark gathered per turn; every other method as it is. */
export function gatheredStateStore(store: StateStore): StateStore {
  const get = gather<number, AccountRecord | null>(async (vgIds) => {
    const found = await store.getMany(vgIds);
    return (vgId) => found.get(vgId) ?? null;
  });
  const save = gather<AccountRecord, void>(async (records) => {
    await store.save(records);
    return () => undefined;
  });
  const unpark = gather<number, void>(async (vgIds) => {
    await store.unpark(vgIds);
    return () => undefined;
  });
  const overrides: Partial<StateStore> = {
    get,
    save: async (records: AccountRecord[]) => {
      await Promise.all(records.map(save));
    },
    // resolves to 0: the shared DELETE's count belongs to the whole batch
    unpark: async (vgIds: number[]) => {
      await Promise.all(vgIds.map(unpark));
      return 0;
    },
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop in overrides) return overrides[prop as keyof StateStore];
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
