// Money arrives as decimal strings (decimal(20,6)); the platform wants integer kopecks. Converting
// through floats would turn 0.285 into 28 kopecks on some values, so the string is read digit by digit.

/** "-12.345678" → -1235 (half away from zero). Throws on anything that isn't a plain decimal. */
export function decimalToKopecks(value: string): number {
  const m = /^\s*([+-])?(\d*)(?:\.(\d*))?\s*$/.exec(value);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`not a decimal amount: ${JSON.stringify(value)}`);
  const negative = m[1] === '-';
  const whole = m[2] === '' ? 0n : BigInt(m[2]!);
  const frac = (m[3] ?? '').padEnd(3, '0');
  let kopecks = whole * 100n + BigInt(frac.slice(0, 2));
  if (Number(frac[2]) >= 5) kopecks += 1n;
  if (negative) kopecks = -kopecks;
  const n = Number(kopecks);
  if (!Number.isSafeInteger(n)) throw new Error(`amount out of range: ${value}`);
  return n === 0 ? 0 : n; // never -0
}
