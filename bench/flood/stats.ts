/** Median and "median (min..max)" of a benchmark's repeated runs (NaN entries, "no value", are left out). */
export function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

export function stat(xs: number[], digits = 1): string {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return '-';
  const f = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(digits));
  const med = f(median(s));
  return s.length === 1 || s[0] === s[s.length - 1] ? med : `${med} (${f(s[0]!)}..${f(s[s.length - 1]!)})`;
}
