/**
 * Correlations used to compare the competitive rank R* with the ideal rank.
 * Both return NaN when either input has zero variance (e.g. R* flat at 1/n
 * when W = I): a correlation is undefined there, and callers must say so
 * rather than invent a number.
 */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`lengths differ: ${n} vs ${b.length}`);
  if (n < 2) return Number.NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  // Treat variance at rounding-noise level as zero: a "flat" vector that only
  // differs in the last bits must not produce a spurious ±1.
  if (saa <= n * (1e-12 * ma) ** 2 || sbb <= n * (1e-12 * mb) ** 2) return Number.NaN;
  const r = sab / Math.sqrt(saa * sbb);
  return Math.max(-1, Math.min(1, r));
}

/** Ranks 1..n, ties get the average of the ranks they span. */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((x, y) => values[x]! - values[y]!);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!]! === values[order[i]!]!) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = avg;
    i = j + 1;
  }
  return ranks;
}

/** Spearman's ρ: Pearson correlation of the average ranks. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (b.length !== a.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  return pearson(averageRanks(a), averageRanks(b));
}

/** Mean and (sample, n−1) standard deviation of the finite entries. */
export function meanStd(values: ArrayLike<number>): { mean: number; std: number; count: number } {
  let count = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      sum += v;
      count++;
    }
  }
  if (count === 0) return { mean: Number.NaN, std: Number.NaN, count: 0 };
  const mean = sum / count;
  let sq = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) sq += (v - mean) ** 2;
  }
  return { mean, std: count > 1 ? Math.sqrt(sq / (count - 1)) : 0, count };
}
