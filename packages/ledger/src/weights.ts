/**
 * Rows of W (section 1.3) as sparse fixed-point vectors.
 *
 * A weight is an integer number of 1e-9 units: a row is on the simplex exactly
 * when its integers sum to WEIGHT_SCALE, so "row sums to 1" is an exact test
 * with no tolerance, and the same bytes mean the same row on every engine.
 * Floats appear only after the division w / WEIGHT_SCALE, which IEEE-754
 * rounds identically everywhere.
 */
import type { SparseRowJson } from './transaction.js';

export const WEIGHT_SCALE = 1_000_000_000;
/** Most (uid, weight) pairs a set-weights row may carry (keeps every row O(1) to store and apply). */
export const MAX_ROW_ENTRIES = 64;

/** A row of W: strictly increasing uids, positive fixed-point weights summing to WEIGHT_SCALE. */
export interface SparseRow {
  readonly uids: Uint32Array;
  readonly weights: Uint32Array;
}

export function selfRow(uid: number): SparseRow {
  return { uids: Uint32Array.of(uid), weights: Uint32Array.of(WEIGHT_SCALE) };
}

/** Zero entries are dropped: they carry no information and would only cost storage. */
export function rowFromPairs(pairs: SparseRowJson): SparseRow {
  let nonZero = 0;
  for (const [, w] of pairs) if (w !== 0) nonZero++;
  const uids = new Uint32Array(nonZero);
  const weights = new Uint32Array(nonZero);
  let k = 0;
  for (const [u, w] of pairs) {
    if (w === 0) continue;
    uids[k] = u;
    weights[k] = w;
    k++;
  }
  return { uids, weights };
}

export function rowToPairs(row: SparseRow): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let k = 0; k < row.uids.length; k++) out.push([row.uids[k]!, row.weights[k]!]);
  return out;
}

/** Row as fractions of 1 (for display and for the peer's scorer). */
export function rowToFractions(row: SparseRow): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let k = 0; k < row.uids.length; k++) out.push([row.uids[k]!, row.weights[k]! / WEIGHT_SCALE]);
  return out;
}

/**
 * ‖a − b‖₂ with both rows read as fractions. Summed in increasing uid order
 * with only −, ×, ÷, + and one sqrt, so the result is bit-identical on every
 * IEEE-754 engine (this number decides whether a tx is accepted).
 */
export function rowStepL2(a: SparseRow, b: SparseRow): number {
  let i = 0;
  let j = 0;
  let sq = 0;
  while (i < a.uids.length || j < b.uids.length) {
    const ua = i < a.uids.length ? a.uids[i]! : Number.POSITIVE_INFINITY;
    const ub = j < b.uids.length ? b.uids[j]! : Number.POSITIVE_INFINITY;
    let d: number;
    if (ua === ub) {
      d = a.weights[i++]! - b.weights[j++]!;
    } else if (ua < ub) {
      d = a.weights[i++]!;
    } else {
      d = -b.weights[j++]!;
    }
    const f = d / WEIGHT_SCALE;
    sq += f * f;
  }
  return Math.sqrt(sq);
}

/**
 * Turns non-negative scores (any scale) into a valid fixed-point row: keeps
 * the `maxEntries` largest, normalises, and rounds by largest remainder so the
 * integers sum to exactly WEIGHT_SCALE. Returns pairs sorted by uid.
 */
export function quantizeRow(
  scores: ReadonlyArray<readonly [number, number]>,
  maxEntries = MAX_ROW_ENTRIES,
): Array<[number, number]> {
  const kept = scores
    .filter(([, s]) => Number.isFinite(s) && s > 0)
    .sort((x, y) => y[1] - x[1] || x[0] - y[0])
    .slice(0, maxEntries);
  let total = 0;
  for (const [, s] of kept) total += s;
  if (kept.length === 0 || !(total > 0))
    throw new RangeError('quantizeRow needs at least one positive finite score');
  const exact = kept.map(([u, s]) => [u, (s / total) * WEIGHT_SCALE] as const);
  const floors = exact.map(([u, x]) => [u, Math.floor(x), x - Math.floor(x)] as [number, number, number]);
  let rest = WEIGHT_SCALE;
  for (const f of floors) rest -= f[1];
  // Hand the remaining units to the largest fractional parts (ties: lower uid).
  const order = floors
    .map((_, k) => k)
    .sort((p, q) => floors[q]![2] - floors[p]![2] || floors[p]![0] - floors[q]![0]);
  for (let k = 0; rest > 0; k = (k + 1) % order.length, rest--) floors[order[k]!]![1]++;
  return floors
    .filter(([, w]) => w > 0)
    .map(([u, w]) => [u, w] as [number, number])
    .sort((x, y) => x[0] - y[0]);
}

/**
 * The row a well-behaved peer should submit: `target` if it is within
 * `stepBoundL2` of `current`, else the point on the segment towards it that
 * is (after quantisation and capping) still within the bound. The ledger
 * itself never clips; it rejects. This helper lets peers never be rejected.
 */
export function boundedRowToward(
  current: SparseRow,
  target: ReadonlyArray<readonly [number, number]>,
  stepBoundL2: number,
  maxEntries = MAX_ROW_ENTRIES,
): Array<[number, number]> {
  const full = quantizeRow(target, maxEntries);
  if (rowStepL2(rowFromPairs(full), current) <= stepBoundL2) return full;
  const cur = new Map<number, number>();
  for (let k = 0; k < current.uids.length; k++) cur.set(current.uids[k]!, current.weights[k]! / WEIGHT_SCALE);
  const tgt = new Map<number, number>();
  for (const [u, w] of full) tgt.set(u, w / WEIGHT_SCALE);
  const keys = [...new Set([...cur.keys(), ...tgt.keys()])];
  const dist = rowStepL2(rowFromPairs(full), current);
  let t = (stepBoundL2 / dist) * 0.98;
  for (let attempt = 0; attempt < 40; attempt++, t *= 0.7) {
    const mixed = keys.map(
      (u) => [u, (1 - t) * (cur.get(u) ?? 0) + t * (tgt.get(u) ?? 0)] as [number, number],
    );
    const row = quantizeRow(mixed, maxEntries);
    if (rowStepL2(rowFromPairs(row), current) <= stepBoundL2) return row;
  }
  return rowToPairs(current);
}
