// Checks of request bodies the way the platform does them. Hand-written rather than schema-driven:
// these run on every simulated call and must stay cheap. Each returns the typed value, or the text
// of the 400 answer. Texts avoid the words "not found": clients read those as an unknown account.
import type { PlatformStatus } from '../types.js';

export const USERNAME_RE = /^[a-zA-Z0-9_@.+\-/]{1,100}$/;
const STATUSES: ReadonlySet<string> = new Set<PlatformStatus>([
  'active',
  'suspended_no_funds',
  'suspended_manually',
  'other',
]);

export interface CreateBody {
  username: string;
  email: string;
  password?: string;
  purchases?: string[];
  region?: string;
  info?: Record<string, unknown>;
}

export interface StateBody {
  balance: number;
  status: PlatformStatus;
  tvSuspended: boolean;
  recommendedRefill?: number;
  stateTimestamp: number;
  lastChangeTimestamp?: number;
}

type Checked<T> = T | { invalid: string };

export function isInvalid<T>(v: Checked<T>): v is { invalid: string } {
  return typeof v === 'object' && v !== null && 'invalid' in v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkPassword(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length < 5 || v.length > 100) return 'password must be 5 to 100 characters';
  return undefined;
}

export function checkCreate(body: unknown): Checked<CreateBody> {
  if (!isObject(body)) return { invalid: 'Bad Request: JSON object expected' };
  const { username, email, password, purchases, region, info } = body;
  if (typeof username !== 'string' || !USERNAME_RE.test(username)) {
    return { invalid: 'Bad Request: username must be 1 to 100 of [a-zA-Z0-9_@.+-/]' };
  }
  if (typeof email !== 'string' || email.length === 0) return { invalid: 'Bad Request: email is required' };
  if (email.length > 100) return { invalid: 'Bad Request: email longer than 100 characters' };
  if (email !== email.toLowerCase()) return { invalid: 'Bad Request: email must be lower-case' };
  if (!email.includes('@')) return { invalid: 'Bad Request: email is not an address' };
  if (password !== undefined) {
    const bad = checkPassword(password);
    if (bad) return { invalid: `Bad Request: ${bad}` };
  }
  if (
    purchases !== undefined &&
    !(Array.isArray(purchases) && purchases.every((p) => typeof p === 'string'))
  ) {
    return { invalid: 'Bad Request: purchases must be an array of subscription ids' };
  }
  if (region !== undefined && typeof region !== 'string') return { invalid: 'Region is not valid' };
  if (info !== undefined && !isObject(info)) return { invalid: 'Bad Request: info must be an object' };
  return body as unknown as CreateBody;
}

export function checkUpdate(
  body: unknown,
): Checked<{ region?: string | null; info?: Record<string, unknown> | null }> {
  if (body === undefined || body === null) return {};
  if (!isObject(body)) return { invalid: 'Bad Request: JSON object expected' };
  const { region, info } = body;
  if (region !== undefined && region !== null && typeof region !== 'string')
    return { invalid: 'Region is not valid' };
  if (info !== undefined && info !== null && !isObject(info))
    return { invalid: 'Bad Request: info must be an object' };
  return body as { region?: string | null; info?: Record<string, unknown> | null };
}

/** Body of reset-password: `{password}` or nothing at all (the platform then makes one up). */
export function checkResetPassword(body: unknown): Checked<{ password?: string }> {
  if (body === undefined || body === null) return {};
  if (!isObject(body)) return { invalid: 'Bad Request: JSON object expected' };
  if (body.password === undefined) return {};
  const bad = checkPassword(body.password);
  return bad ? { invalid: `Bad Request: ${bad}` } : { password: body.password as string };
}

export function checkSubscriptionSwitch(body: unknown): Checked<{ id: string; valid: boolean }> {
  if (!isObject(body)) return { invalid: 'Bad Request: JSON object expected' };
  if (typeof body.id !== 'string' || body.id.length === 0)
    return { invalid: 'Bad Request: id must be a string' };
  if (typeof body.valid !== 'boolean') return { invalid: 'Bad Request: valid must be true or false' };
  return { id: body.id, valid: body.valid };
}

function isMs(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/** The v3 account-state body; a message for a v3 `{code, message}` error otherwise. */
export function checkAccountState(body: unknown): Checked<StateBody> {
  if (!isObject(body)) return { invalid: 'body must be a JSON object' };
  const { balance, status, tvSuspended, recommendedRefill, stateTimestamp, lastChangeTimestamp } = body;
  if (!Number.isSafeInteger(balance))
    return { invalid: 'balance is required and must be an integer (kopecks)' };
  if (typeof status !== 'string' || !STATUSES.has(status)) {
    return { invalid: 'status is required: active | suspended_no_funds | suspended_manually | other' };
  }
  if (typeof tvSuspended !== 'boolean') return { invalid: 'tvSuspended is required and must be a boolean' };
  if (tvSuspended && status === 'active')
    return { invalid: "status can't be active while tvSuspended is true" };
  if (recommendedRefill !== undefined && !Number.isSafeInteger(recommendedRefill)) {
    return { invalid: 'recommendedRefill must be an integer (kopecks)' };
  }
  if (!isMs(stateTimestamp)) return { invalid: 'stateTimestamp is required: ms since epoch' };
  if (lastChangeTimestamp !== undefined && !isMs(lastChangeTimestamp)) {
    return { invalid: 'lastChangeTimestamp must be ms since epoch' };
  }
  return body as unknown as StateBody;
}
