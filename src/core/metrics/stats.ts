/** Statistics for evaluation reports: means, seeded bootstrap CIs, McNemar's exact test, paired bootstrap. */
import { Rng } from "../util/rng.js";

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

export interface Interval {
  lo: number;
  hi: number;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Percentile bootstrap CI of the mean of `units` (each unit a number: pass cluster means to
 * resample clusters, e.g. one value per preference pair averaged over its two orders).
 */
export function bootstrapMeanCI(units: readonly number[], opts: { seed?: number; resamples?: number; level?: number } = {}): Interval {
  const n = units.length;
  if (n === 0) return { lo: NaN, hi: NaN };
  const B = opts.resamples ?? 2000;
  const level = opts.level ?? 0.95;
  const rng = new Rng(opts.seed ?? 0, "bootstrap");
  const means = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += units[rng.int(n)]!;
    means[b] = s / n;
  }
  means.sort();
  return { lo: quantile(means, (1 - level) / 2), hi: quantile(means, 1 - (1 - level) / 2) };
}

/** log of n choose k. */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** Two-sided exact binomial test of k successes in n trials at p = 0.5. */
export function binomialTwoSided(k: number, n: number): number {
  if (n === 0) return 1;
  const m = Math.min(k, n - k);
  let tail = 0;
  for (let i = 0; i <= m; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

export interface McNemar {
  /** A right, B wrong. */
  b: number;
  /** A wrong, B right. */
  c: number;
  n: number;
  pValue: number;
}

/** McNemar's exact test on paired binary outcomes (same items, two systems). */
export function mcnemarExact(pairs: readonly [boolean, boolean][]): McNemar {
  let b = 0;
  let c = 0;
  for (const [x, y] of pairs) {
    if (x && !y) b++;
    else if (!x && y) c++;
  }
  return { b, c, n: pairs.length, pValue: binomialTwoSided(b, b + c) };
}

export interface PairedBootstrap {
  meanDiff: number;
  ci: Interval;
  pValue: number;
  n: number;
}

/** Paired bootstrap on differences (B - A): CI of the mean difference and a two-sided p-value. */
export function pairedBootstrap(a: readonly number[], b: readonly number[], opts: { seed?: number; resamples?: number } = {}): PairedBootstrap {
  if (a.length !== b.length) throw new Error("paired bootstrap needs samples of equal length");
  const d = a.map((x, i) => b[i]! - x);
  const n = d.length;
  const B = opts.resamples ?? 5000;
  const rng = new Rng(opts.seed ?? 0, "paired-bootstrap");
  const means = new Float64Array(B);
  let le = 0;
  let ge = 0;
  for (let k = 0; k < B; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[rng.int(n)]!;
    const m = s / n;
    means[k] = m;
    if (m <= 0) le++;
    if (m >= 0) ge++;
  }
  means.sort();
  const pValue = n === 0 ? 1 : Math.min(1, (2 * Math.min(le, ge)) / B);
  return { meanDiff: mean(d), ci: { lo: quantile(means, 0.025), hi: quantile(means, 0.975) }, pValue, n };
}
