// Turns what the platform answered (or how the connection failed) into a PlatformError of the
// right kind. The one place that knows the platform's error texts.
import { parseRetryAfter } from './backoff.js';
import { PlatformError, type PlatformErrorKind } from './errors.js';

/** Connection-level failures worth another try: the request may not have reached the platform. */
const TRANSIENT_CODES = new Set([
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

const MAX_TEXT = 300;

/** The platform's own words: v2 `{error}`, v3 `{code, message}`, or the raw text, shortened. */
export function errorText(body: string): string {
  try {
    const json = JSON.parse(body) as { error?: unknown; code?: unknown; message?: unknown };
    if (typeof json?.error === 'string') return json.error;
    if (typeof json?.message === 'string') {
      return typeof json.code === 'string' ? `${json.code}: ${json.message}` : json.message;
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  const text = body.trim();
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}...` : text;
}

function kindOf400(text: string): PlatformErrorKind {
  if (text.includes('ValidationErrIsArchived')) return 'archived_subscription';
  if (/belongs to other provider/i.test(text)) return 'foreign_username';
  if (/not[ _]found/i.test(text)) return 'not_found';
  return 'bad_request';
}

/** A non-2xx answer. v3 500s mean "send it again", like every other 5xx: transient. */
export function errorFromAnswer(
  status: number,
  body: string,
  call: string,
  retryAfter?: string,
): PlatformError {
  const text = errorText(body);
  const message = `${call} answered ${status}${text ? `: ${text}` : ''}`;
  let kind: PlatformErrorKind;
  if (status === 429 || status === 408 || status >= 500) kind = 'transient';
  else if (status === 403 || status === 401) kind = 'forbidden';
  else if (status === 404) kind = 'not_found';
  else if (status === 400) kind = kindOf400(text);
  else if (status >= 400) kind = 'bad_request';
  else kind = 'protocol';
  const wait = kind === 'transient' ? parseRetryAfter(retryAfter) : undefined;
  return new PlatformError(kind, message, status, call, wait);
}

/** A failure below HTTP: transient when the network is to blame; anything else is a bug, rethrown. */
export function errorFromException(err: unknown, call: string): PlatformError {
  if (err instanceof PlatformError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) {
    return new PlatformError(
      'transient',
      `${call} failed: ${code} ${(err as Error).message}`,
      undefined,
      call,
    );
  }
  throw err;
}
