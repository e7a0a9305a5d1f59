import jStat from 'jstat';

/**
 * Rank tests for comparing a canary cohort with its control, as Kayenta's Mann-Whitney classifier does: the U statistic
 * with the normal approximation (tie-corrected, continuity-corrected) and the Hodges-Lehmann shift with its
 * distribution-free confidence interval. The normal distribution itself comes from jstat, not from code written here.
 */

export interface MannWhitney {
  /** U of the first sample: how many (x, y) pairs have x > y, ties counting one half. */
  u: number;
  z: number;
  /** Two-sided p-value. */
  pValue: number;
}

export interface ShiftEstimate {
  /** Median of every pairwise difference x − y. */
  estimate: number;
  lower: number;
  upper: number;
}

/** Mann-Whitney U of x against y. Both samples must be non-empty. */
export function mannWhitney(x: readonly number[], y: readonly number[]): MannWhitney {
  const n = x.length;
  const m = y.length;
  const all = [...x.map((v) => ({ v, first: true })), ...y.map((v) => ({ v, first: false }))].sort((a, b) => a.v - b.v);
  let rankSumX = 0;
  let tieTerm = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j + 2) / 2; // mean of the 1-based ranks i+1 … j+1
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    for (let k = i; k <= j; k++) if (all[k]!.first) rankSumX += rank;
    i = j + 1;
  }
  const u = rankSumX - (n * (n + 1)) / 2;
  const mean = (n * m) / 2;
  const N = n + m;
  const variance = ((n * m) / 12) * (N + 1 - tieTerm / (N * (N - 1)));
  if (variance <= 0) return { u, z: 0, pValue: 1 }; // every value tied: no evidence either way
  const diff = u - mean;
  const z = (Math.abs(diff) > 0.5 ? diff - Math.sign(diff) * 0.5 : 0) / Math.sqrt(variance);
  return { u, z, pValue: Math.min(1, 2 * (1 - jStat.normal.cdf(Math.abs(z), 0, 1))) };
}

/**
 * Hodges-Lehmann shift of x over y and its confidence interval: the order statistics of the n·m pairwise differences
 * at C and n·m − C, C from the normal approximation of U's distribution (Hollander & Wolfe, Nonparametric Statistical
 * Methods, §4.3). Samples above `maxPerSample` are thinned by a stride so the pair count stays bounded (2 000² = 4 M).
 */
export function hodgesLehmann(
  x: readonly number[],
  y: readonly number[],
  confidence: number,
  maxPerSample = 2_000,
): ShiftEstimate {
  const xs = thin(x, maxPerSample);
  const ys = thin(y, maxPerSample);
  const n = xs.length;
  const m = ys.length;
  const diffs = new Float64Array(n * m);
  let k = 0;
  for (const a of xs) for (const b of ys) diffs[k++] = a - b;
  const total = diffs.length;
  const median =
    total % 2 === 1 ? select(diffs, (total - 1) / 2) : (select(diffs, total / 2 - 1) + select(diffs, total / 2)) / 2;
  const z = jStat.normal.inv(1 - (1 - confidence) / 2, 0, 1);
  const c = Math.floor((n * m) / 2 - z * Math.sqrt((n * m * (n + m + 1)) / 12));
  // C below 0 means the samples are too small for this confidence: the interval is then every difference seen.
  const lowerIndex = Math.max(0, c);
  const upperIndex = Math.min(total - 1, total - 1 - c);
  return { estimate: median, lower: select(diffs, lowerIndex), upper: select(diffs, upperIndex) };
}

/**
 * The k-th smallest value (0-based), reordering `a` in place: Hoare's quickselect, O(length) on average. Only three
 * or four order statistics of the pairwise differences are needed, and sorting 4 M of them took seconds on a busy
 * two-core machine where selecting takes tens of milliseconds.
 */
function select(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const pivot = a[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

export interface ProportionDifference {
  /** p₁ − p₂. */
  estimate: number;
  lower: number;
  upper: number;
}

/**
 * Difference of two proportions with Newcombe's hybrid score interval (method 10 of Newcombe 1998), built from the
 * Wilson interval of each: unlike the Wald interval it stays honest at 0 errors and in small samples.
 */
export function proportionDifference(
  events1: number,
  total1: number,
  events2: number,
  total2: number,
  confidence: number,
): ProportionDifference {
  const z = jStat.normal.inv(1 - (1 - confidence) / 2, 0, 1);
  const p1 = events1 / total1;
  const p2 = events2 / total2;
  const [l1, u1] = wilson(p1, total1, z);
  const [l2, u2] = wilson(p2, total2, z);
  const d = p1 - p2;
  return {
    estimate: d,
    lower: d - Math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
    upper: d + Math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
  };
}

function wilson(p: number, n: number, z: number): [number, number] {
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

function thin(values: readonly number[], max: number): readonly number[] {
  if (values.length <= max) return values;
  const step = values.length / max;
  return Array.from({ length: max }, (_, i) => values[Math.floor(i * step)]!);
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}
