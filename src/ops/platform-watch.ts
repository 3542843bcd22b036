// Whether the platform answers, as seen from the calls the service makes anyway: /health reports
// it without probing the platform on every health check. A call that got any answer from the
// platform (including a refusal such as 400) proves it reachable; a transient failure (network,
// timeout, 5xx, 429) proves it not. Before the first call it is unknown.
import type { PlatformApi } from '../smotreshka/api.js';
import { isTransient } from '../smotreshka/errors.js';

export interface PlatformStatus {
  /** null = no call made since start */
  reachable: boolean | null;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
}

const METHODS = [
  'listAccounts',
  'getAccount',
  'createAccount',
  'deleteAccount',
  'updateAccount',
  'resetPassword',
  'listSubscriptions',
  'accountSubscriptions',
  'setSubscription',
  'pushAccountState',
] as const satisfies readonly (keyof PlatformApi)[];

// compile-time: a method added to PlatformApi must be watched too
type Unwatched = Exclude<keyof PlatformApi, (typeof METHODS)[number]>;
const everyMethodWatched: [Unwatched] extends [never] ? true : never = true;
void everyMethodWatched;

/** The same client, with each PlatformApi call's outcome noted; other members pass through. */
export function watchPlatform<T extends PlatformApi>(api: T): { api: T; status(): PlatformStatus } {
  const status: PlatformStatus = {
    reachable: null,
    lastSuccessAt: null,
    lastFailureAt: null,
    lastError: null,
  };
  const ok = () => {
    status.reachable = true;
    status.lastSuccessAt = new Date();
  };
  const wrappers = new Map<PropertyKey, (...args: unknown[]) => Promise<unknown>>();
  for (const name of METHODS) {
    wrappers.set(name, async (...args: unknown[]) => {
      try {
        const result = await (api[name] as (...a: unknown[]) => Promise<unknown>).apply(api, args);
        ok();
        return result;
      } catch (err) {
        if (isTransient(err)) {
          status.reachable = false;
          status.lastFailureAt = new Date();
          status.lastError = (err as Error).message;
        } else ok();
        throw err;
      }
    });
  }
  // a Proxy, not a copy: other members (close, stats) keep working whatever the client's shape
  const watched = new Proxy(api, {
    get(target, prop) {
      const wrapper = wrappers.get(prop);
      if (wrapper) return wrapper;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { api: watched, status: () => ({ ...status }) };
}
