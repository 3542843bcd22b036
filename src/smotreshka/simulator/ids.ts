// Account ids and timestamps in the platform's own shapes: ids are 24 hex chars (MongoDB
// ObjectId-like), times look like `2018-02-13 18:12:21.528000+03:00` (microseconds, local offset).
import { randomBytes } from 'node:crypto';

const processPart = randomBytes(3).toString('hex');
let counter = randomBytes(4).readUInt32BE(0) >>> 8;

/** 8 hex of seconds + 6 hex per process + 10 hex counter: unique within a run, sortable by time. */
export function newAccountId(nowMs: number): string {
  counter = (counter + 1) % 0xff_ffff_ffff;
  const seconds = Math.floor(nowMs / 1000) >>> 0;
  return seconds.toString(16).padStart(8, '0') + processPart + counter.toString(16).padStart(10, '0');
}

export const ACCOUNT_ID_RE = /^[0-9a-f]{24}$/;

/** The platform answers in Moscow time in the samples we have; the offset only shapes the text. */
export function platformTime(ms: number, offsetMinutes = 180): string {
  const iso = new Date(ms + offsetMinutes * 60_000).toISOString();
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000${sign}${hh}:${mm}`;
}

// Passwords are cut from a pool of random bytes: one randomBytes() per create showed in profiles.
const POOL_SIZE = 9 * 512;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

export function generatePassword(): string {
  if (offset + 9 > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  offset += 9;
  return pool.toString('base64url', offset - 9, offset);
}
