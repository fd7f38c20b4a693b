/**
 * The parameterised function of peer i (§1.1) in plain tfjs variables: small
 * MLPs whose variables we own, so the trainer can take gradients with respect
 * to exactly the tensors it needs (its own weights and the remote answers) in
 * one tape, and so weights serialise to plain Float32Arrays for storage.
 */
import { createRng } from '@peerbench/mechanism';
import * as tf from '@tensorflow/tfjs';

export type Activation = 'relu' | 'tanh' | 'linear';

export interface MlpSpec {
  /** Layer widths, input first: [784, 128, 64] is two dense layers. */
  sizes: number[];
  /** Activation after each layer (length sizes.length - 1). */
  activations: Activation[];
  /**
   * 0/1 per input feature (length sizes[0]): the features this model sees;
   * the others are zeroed before the first layer. A peer's private view of
   * the input (the swarm's known-quality design). Undefined: every feature.
   */
  inputMask?: Float32Array;
}

/** 0/1 over `inputSize` features with round(view·inputSize) ones (at least one), a seeded random subset (MlpSpec.inputMask). */
export function inputViewMask(inputSize: number, view: number, seed: number): Float32Array {
  if (!(view > 0 && view <= 1)) throw new RangeError(`input view must be in (0, 1], got ${view}`);
  const order = Array.from({ length: inputSize }, (_, i) => i);
  const rng = createRng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const mask = new Float32Array(inputSize);
  const count = Math.max(1, Math.round(view * inputSize));
  for (let q = 0; q < count; q++) mask[order[q]!] = 1;
  return mask;
}

/** Named weights, the unit that storage persists. */
export type NamedWeights = Record<string, { shape: number[]; data: Float32Array }>;

/** Distinct, reproducible seeds per layer so two layers of one model never share a draw. */
function layerSeed(base: number | undefined, layer: number): number | undefined {
  return base === undefined ? undefined : base * 7919 + layer + 1;
}

export class Mlp {
  /** Logical name, used for persisted weights (the same across processes). */
  readonly name: string;
  readonly spec: MlpSpec;
  readonly weights: tf.Variable[] = [];
  readonly biases: tf.Variable[] = [];
  private readonly inputMask: tf.Tensor1D | null;

  /**
   * `scope` makes the tfjs variable names unique when several peers live in
   * one process (tfjs registers variables globally by name).
   */
  constructor(name: string, spec: MlpSpec, seed?: number, scope?: string) {
    if (spec.activations.length !== spec.sizes.length - 1)
      throw new RangeError(`${name}: need ${spec.sizes.length - 1} activations`);
    this.name = name;
    this.spec = spec;
    if (spec.inputMask && spec.inputMask.length !== spec.sizes[0])
      throw new RangeError(`${name}: input mask has ${spec.inputMask.length} entries, need ${spec.sizes[0]}`);
    this.inputMask = spec.inputMask ? tf.keep(tf.tensor1d(spec.inputMask)) : null;
    for (let l = 0; l + 1 < spec.sizes.length; l++) {
      const fanIn = spec.sizes[l]!;
      const fanOut = spec.sizes[l + 1]!;
      // Glorot-normal: keeps activations in range for relu/tanh stacks.
      const std = Math.sqrt(2 / (fanIn + fanOut));
      // The tidy frees the initial values; a variable keeps its own reference
      // to the data (tidy never disposes variables). Without it every model
      // left its initial tensors behind after dispose().
      tf.tidy(() => {
        this.weights.push(
          tf.variable(
            tf.randomNormal([fanIn, fanOut], 0, std, 'float32', layerSeed(seed, l)),
            true,
            scoped(scope, `${name}/w${l}`),
          ),
        );
        this.biases.push(tf.variable(tf.zeros([fanOut]), true, scoped(scope, `${name}/b${l}`)));
      });
    }
  }

  get inputSize(): number {
    return this.spec.sizes[0]!;
  }
  get outputSize(): number {
    return this.spec.sizes[this.spec.sizes.length - 1]!;
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return this.run(x, true);
  }

  /** The output before the last layer's activation (eq 9's composition adds to it before the tanh). */
  applyPreActivation(x: tf.Tensor2D): tf.Tensor2D {
    return this.run(x, false);
  }

  private run(x: tf.Tensor2D, activateLast: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor2D = this.inputMask ? tf.mul(x, this.inputMask) : x;
      for (let l = 0; l < this.weights.length; l++) {
        h = tf.add(tf.matMul(h, this.weights[l]!), this.biases[l]!);
        if (!activateLast && l === this.weights.length - 1) break;
        const act = this.spec.activations[l];
        if (act === 'relu') h = tf.relu(h);
        else if (act === 'tanh') h = tf.tanh(h);
      }
      return h;
    });
  }

  variables(): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (let l = 0; l < this.weights.length; l++) out.push(this.weights[l]!, this.biases[l]!);
    return out;
  }

  /** Logical names of variables(), in the same order. */
  variableNames(): string[] {
    const out: string[] = [];
    for (let l = 0; l < this.weights.length; l++) out.push(`${this.name}/w${l}`, `${this.name}/b${l}`);
    return out;
  }

  exportWeights(into: NamedWeights = {}): Promise<NamedWeights> {
    return exportVariables(this.variableNames(), this.variables(), into);
  }

  /** Loads the weights whose names and shapes match; returns how many were loaded. */
  importWeights(weights: NamedWeights): number {
    return importVariables(this.variableNames(), this.variables(), weights);
  }

  dispose(): void {
    for (const v of this.variables()) v.dispose();
    this.inputMask?.dispose();
  }
}

export function scoped(scope: string | undefined, name: string): string {
  return scope ? `${scope}/${name}` : name;
}

let scopeCounter = 0;
/** A process-unique variable scope for one peer's model. */
export function uniqueScope(prefix = 'peer'): string {
  return `${prefix}${++scopeCounter}`;
}

/**
 * Copies the variables' values out, read back asynchronously in one transfer
 * (a synchronous read stalls a GPU pipeline, and on tfjs-webgpu it can lose
 * the device: issue 19).
 */
export async function exportVariables(
  names: string[],
  vars: tf.Variable[],
  into: NamedWeights = {},
): Promise<NamedWeights> {
  const values = await readFlat(vars);
  vars.forEach((v, i) => {
    into[names[i]!] = { shape: v.shape.slice(), data: values[i]! };
  });
  return into;
}

/**
 * The float32 values of several tensors with one asynchronous readback:
 * they are flattened and concatenated on the device, read once, and split.
 * Every returned array is a fresh copy.
 */
export async function readFlat(tensors: readonly tf.Tensor[]): Promise<Float32Array[]> {
  if (tensors.length === 0) return [];
  const packed = tf.tidy(() => tf.concat(tensors.map((t) => tf.cast(tf.reshape(t, [-1]), 'float32'))));
  let all: Float32Array;
  try {
    all = (await packed.data()) as Float32Array;
  } finally {
    packed.dispose();
  }
  const out: Float32Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    out.push(all.slice(offset, offset + t.size));
    offset += t.size;
  }
  return out;
}

export function importVariables(names: string[], vars: tf.Variable[], weights: NamedWeights): number {
  let loaded = 0;
  vars.forEach((v, i) => {
    const w = weights[names[i]!];
    if (!w || w.shape.length !== v.shape.length || w.shape.some((d, k) => d !== v.shape[k])) return;
    if (w.data.length !== v.size) return;
    tf.tidy(() => v.assign(tf.tensor(w.data, v.shape)));
    loaded++;
  });
  return loaded;
}

/** Encoded form of NamedWeights: a JSON header then the raw float32 bytes. */
export function encodeWeights(weights: NamedWeights): Uint8Array {
  const entries = Object.entries(weights);
  const header = entries.map(([name, w]) => ({ name, shape: w.shape, length: w.data.length }));
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const floats = entries.reduce((n, [, w]) => n + w.data.length, 0);
  const out = new Uint8Array(4 + headerBytes.length + ((4 - (headerBytes.length % 4)) % 4) + floats * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes.length, true);
  out.set(headerBytes, 4);
  let offset = 4 + headerBytes.length;
  offset += (4 - (offset % 4)) % 4;
  for (const [, w] of entries) {
    out.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), offset);
    offset += w.data.byteLength;
  }
  return out;
}

export function decodeWeights(bytes: Uint8Array): NamedWeights {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength))) as {
    name: string;
    shape: number[];
    length: number;
  }[];
  let offset = 4 + headerLength;
  offset += (4 - (offset % 4)) % 4;
  const out: NamedWeights = {};
  for (const h of header) {
    const data = new Float32Array(h.length);
    data.set(new Float32Array(bytes.slice(offset, offset + h.length * 4).buffer));
    out[h.name] = { shape: h.shape, data };
    offset += h.length * 4;
  }
  return out;
}
