// Raw HTTP against the simulator, for tests that check the platform's answers themselves rather
// than what the client makes of them.
import { request } from 'undici';

export interface RawReply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers of many shapes
  json: any;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/** `body`: a value sent as JSON, or a string sent as is with a JSON content type. */
export async function call(base: string, method: string, path: string, body?: unknown): Promise<RawReply> {
  const res = await request(base + path, {
    method: method as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text, headers: res.headers };
}

export const enc = encodeURIComponent;

export const PLATFORM_TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$/;
