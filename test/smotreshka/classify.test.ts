// The pure parts of the client: error classification and back-off.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRetryAfter, retryDelay } from '../../src/smotreshka/backoff.js';
import { errorFromAnswer, errorFromException, errorText } from '../../src/smotreshka/classify.js';

describe('errorFromAnswer', () => {
  it.each([
    [500, '{"error":"Internal"}', 'transient'],
    [502, '<html>bad gateway</html>', 'transient'],
    [500, '{"code":"internal","message":"send it again"}', 'transient'],
    [429, '', 'transient'],
    [408, '', 'transient'],
    [403, '{"error":"Forbidden"}', 'forbidden'],
    [401, '', 'forbidden'],
    [404, '{"error":"not found"}', 'not_found'],
    [400, '{"error":"User not found"}', 'not_found'],
    [400, '{"code":"not_found","message":"no such account"}', 'not_found'],
    [400, '{"error":"HTTP 400: 4006: ValidationErrIsArchived"}', 'archived_subscription'],
    [400, '{"error":"Users exists and belongs to other provider"}', 'foreign_username'],
    [400, '{"error":"Region is not valid"}', 'bad_request'],
    [400, '{"code":"bad_request","message":"balance is required"}', 'bad_request'],
    [409, '{"error":"conflict"}', 'bad_request'],
    [302, '', 'protocol'],
  ])('%i %s -> %s', (status, body, kind) => {
    const err = errorFromAnswer(status, body, 'GET /v2/x');
    expect(err.kind).toBe(kind);
    expect(err.status).toBe(status);
    expect(err.call).toBe('GET /v2/x');
  });

  it("keeps the platform's text in the message, v2 and v3 forms", () => {
    expect(errorFromAnswer(400, '{"error":"Region is not valid"}', 'POST /v2/accounts').message).toBe(
      'POST /v2/accounts answered 400: Region is not valid',
    );
    expect(errorText('{"code":"bad_request","message":"balance is required"}')).toBe(
      'bad_request: balance is required',
    );
    expect(errorText(`  ${'x'.repeat(400)} `)).toHaveLength(303);
  });

  it('reads Retry-After only for transient answers', () => {
    expect(errorFromAnswer(429, '', 'c', '2').retryAfterMs).toBe(2000);
    expect(errorFromAnswer(503, '', 'c', '0').retryAfterMs).toBe(0);
    expect(errorFromAnswer(400, '', 'c', '2').retryAfterMs).toBeUndefined();
  });
});

describe('errorFromException', () => {
  it('network failures are transient; anything else is rethrown as the bug it is', () => {
    for (const code of [
      'ECONNRESET',
      'ECONNREFUSED',
      'UND_ERR_SOCKET',
      'ETIMEDOUT',
      'UND_ERR_HEADERS_TIMEOUT',
    ]) {
      const err = Object.assign(new Error('boom'), { code });
      expect(errorFromException(err, 'GET /v2/x').kind).toBe('transient');
    }
    const bug = new TypeError('x is not a function');
    expect(() => errorFromException(bug, 'GET /v2/x')).toThrow(bug);
  });
});

describe('retryDelay', () => {
  const opts = { minDelayMs: 100, maxDelayMs: 5000, maxRetryAfterMs: 60_000 };

  it('is between half and all of min * 2^(retry-1), capped at maxDelayMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (retry, r) => {
          const step = Math.min(5000, 100 * 2 ** (retry - 1));
          const d = retryDelay(retry, opts, undefined, () => r);
          expect(d).toBeGreaterThanOrEqual(step / 2);
          expect(d).toBeLessThanOrEqual(step);
        },
      ),
    );
  });

  it('grows with the retry number for the same draw', () => {
    const at = (retry: number) => retryDelay(retry, opts, undefined, () => 0.5);
    expect([1, 2, 3, 4].map(at)).toEqual([75, 150, 300, 600]);
  });

  it('takes a Retry-After as a floor, capped at maxRetryAfterMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (retry, after) => {
          const d = retryDelay(retry, opts, after, () => 0);
          expect(d).toBeGreaterThanOrEqual(Math.min(after, 60_000));
          expect(d).toBeLessThanOrEqual(Math.max(Math.min(after, 60_000), 5000));
        },
      ),
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates; ignores what it cannot read', () => {
    const now = Date.parse('2024-05-01T10:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 01 May 2024 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 01 May 2024 09:00:00 GMT', now)).toBe(0);
    for (const v of [undefined, '', 'soon', '-5']) expect(parseRetryAfter(v, now)).toBeUndefined();
  });
});
