/**
 * One swarm participant: the training step of DESIGN.md ("one training step
 * of peer i", paper §1.6-1.8) in tfjs, in lockstep with the others.
 *
 *   encoder f_i: 784 → 64 → d   (served to others, eq 9)
 *   gate:        784 → n        (noisy top-k over all peers, self included, eq 10)
 *   head:        n·d → 32 → 10  (on G(x) = [g_0 f_0, …, g_n f_n], eq 10 as the paper
 *                               writes it: one slot per peer, so the head can read each
 *                               peer's independently learned space; --combine sum gives
 *                               Σ_j g_j f_j with a d → 32 → 10 head instead)
 *
 * Every expert's answer (its own included) enters the tape as a leaf, so the
 * step yields ∂L_i/∂f_j(x) for each j: it is sent back to j (backward), and
 * gives the Fisher term (∂L_i/∂f_j · f_j)² used for scoring (eq 3). A remote
 * answer that fails, or is not finite, is replaced by the local distilled
 * stand-in for j (§1.8), which is trained on j's answers while j is up.
 * Responders scale what they send to i by the competitive mask of eq 7-8.
 */
import { competitiveMask, createRng, projectToSimplex, type Rng } from '@peerbench/mechanism';
import * as tf from '@tensorflow/tfjs';
import { type Dataset, IMAGE_SIZE, NUM_CLASSES, sampleBatch } from './data.js';
import type { ExpertHandler, ExpertNetwork } from './network.js';

export const REPRESENTATION_DIM = 32;
/** Gate noise std while training (Shazeer et al.'s noisy top-k, fixed here). */
export const GATE_NOISE_STD = 1;
/** Weight of the load-balancing term CV²(importance). */
export const LOAD_BALANCE_WEIGHT = 0.05;
/** Remote gradients are clipped to this global L2 norm before they touch f_i. */
export const MAX_REMOTE_GRAD_NORM = 5;
/** Per-step decay of the importance and Fisher EMAs that become w_ij. */
export const SCORE_EMA_DECAY = 0.9;
const EVAL_CHUNK_ROWS = 250;

export type ParticipantKind = 'honest' | 'noise' | 'copy';

let nameCounter = 0;

class Mlp {
  readonly vars: tf.Variable[] = [];
  constructor(
    name: string,
    readonly sizes: number[],
    readonly acts: ('relu' | 'tanh' | 'linear')[],
    rng: Rng,
  ) {
    for (let l = 0; l + 1 < sizes.length; l++) {
      const std = Math.sqrt(2 / (sizes[l]! + sizes[l + 1]!));
      const w = new Float32Array(sizes[l]! * sizes[l + 1]!);
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
      // tidy disposes the initial values; the variables keep their own reference.
      tf.tidy(() => {
        this.vars.push(tf.variable(tf.tensor2d(w, [sizes[l]!, sizes[l + 1]!]), true, `${name}/w${l}`));
        this.vars.push(tf.variable(tf.zeros([sizes[l + 1]!]), true, `${name}/b${l}`));
      });
    }
  }
  apply(x: tf.Tensor2D): tf.Tensor2D {
    let h = x;
    for (let l = 0; 2 * l < this.vars.length; l++) {
      h = tf.add(tf.matMul(h, this.vars[2 * l] as tf.Tensor2D), this.vars[2 * l + 1]!);
      const a = this.acts[l];
      if (a === 'relu') h = tf.relu(h);
      else if (a === 'tanh') h = tf.tanh(h);
    }
    return h;
  }
  dispose(): void {
    for (const v of this.vars) v.dispose();
  }
}

export interface ChainView {
  n: number;
  W: Float64Array;
  S: Float64Array;
}

export interface StepResult {
  /** Cross-entropy on the training batch (without the load-balancing term). */
  loss: number;
  /** Experts that answered from the local stand-in (peer gone, failed, or bad answer). */
  standIns: number;
  /** Remote answers rejected because they were malformed (NaN, wrong size). */
  badAnswers: number;
  /** Wall time awaiting forward/backward calls (includes remote compute). */
  networkMs: number;
  totalMs: number;
}

export interface EvalResult {
  loss: number;
  accuracy: number;
}

export interface ParticipantOptions {
  index: number;
  n: number;
  kind: ParticipantKind;
  shard: Dataset | null;
  isolated: boolean;
  k: number;
  batch: number;
  learningRate: number;
  /** Mask temperature relative to the mean stake. */
  temperature: number;
  /** How G(x) joins the experts: concat (eq 10's list, one slot per peer) or sum (Σ g_j f_j). */
  combine: 'concat' | 'sum';
  seed: number;
}

export class Participant implements ExpertHandler {
  readonly index: number;
  readonly n: number;
  readonly kind: ParticipantKind;
  private readonly opts: ParticipantOptions;
  private readonly rng: Rng;
  private readonly encoder: Mlp | null = null;
  private readonly gate: Mlp | null = null;
  private readonly head: Mlp | null = null;
  private readonly standIns: (Mlp | null)[];
  private readonly optimizer: tf.Optimizer;
  private readonly standInOptimizer: tf.Optimizer;
  private encoderGradAcc: tf.Tensor[] | null = null;
  private mask: Float64Array;
  readonly importanceEma: Float64Array;
  readonly fisherEma: Float64Array;
  /** Gradients from callers that were applied / clipped. */
  remoteGradients = 0;

  constructor(opts: ParticipantOptions) {
    this.opts = opts;
    this.index = opts.index;
    this.n = opts.n;
    this.kind = opts.kind;
    this.rng = createRng(opts.seed * 1009 + opts.index * 7919 + 17);
    const prefix = `swarm${nameCounter++}/p${opts.index}`;
    if (opts.kind !== 'noise') {
      this.encoder = new Mlp(
        `${prefix}/enc`,
        [IMAGE_SIZE, 64, REPRESENTATION_DIM],
        ['relu', 'tanh'],
        this.rng,
      );
      this.gate = new Mlp(`${prefix}/gate`, [IMAGE_SIZE, opts.n], ['linear'], this.rng);
      this.head = new Mlp(
        `${prefix}/head`,
        [this.headInput(), 32, NUM_CLASSES],
        ['relu', 'linear'],
        this.rng,
      );
    }
    this.standIns = Array.from({ length: opts.n }, () => null);
    this.optimizer = tidyAdam(opts.learningRate);
    this.standInOptimizer = tidyAdam(opts.learningRate * 3);
    this.mask = new Float64Array(opts.n * opts.n).fill(0.5);
    this.importanceEma = new Float64Array(opts.n);
    this.fisherEma = new Float64Array(opts.n);
  }

  /** Width of G(x): one d-slot per peer when concatenating (eq 10 as written), else d. */
  private headInput(): number {
    return this.opts.combine === 'concat' ? this.n * REPRESENTATION_DIM : REPRESENTATION_DIM;
  }

  /** New block: recompute the competitive mask of eq 7-8 from the latest W and S. */
  setChainView(view: ChainView): void {
    let meanStake = 0;
    for (let i = 0; i < view.n; i++) meanStake += view.S[i]! / view.n;
    const T = this.opts.temperature * (meanStake > 0 ? meanStake : 1);
    this.mask = competitiveMask(view.W, view.S, view.n, T);
  }

  /** M_ij: the factor this responder j applies to what it sends to caller i. */
  maskFor(caller: number): number {
    return this.mask[caller * this.n + this.index]!;
  }

  // ---- serving (ExpertHandler) -------------------------------------------------

  forward(from: number, x: Float32Array, rows: number): Float32Array {
    if (this.kind === 'noise' || !this.encoder) {
      const out = new Float32Array(rows * REPRESENTATION_DIM);
      for (let i = 0; i < out.length; i++) out[i] = this.rng.next() * 2 - 1;
      return out;
    }
    const m = from === this.index ? 1 : this.maskFor(from);
    const enc = this.encoder;
    return tf.tidy(() => tf.mul(enc.apply(tf.tensor2d(x, [rows, IMAGE_SIZE])), m).dataSync() as Float32Array);
  }

  backward(from: number, x: Float32Array, rows: number, grad: Float32Array): void {
    if (this.kind === 'noise' || !this.encoder) return; // the noise peer ignores what it is told
    const m = from === this.index ? 1 : this.maskFor(from);
    const enc = this.encoder;
    const kept = tf.tidy((): tf.Tensor[] => {
      const xT = tf.tensor2d(x, [rows, IMAGE_SIZE]);
      const dy = tf.mul(tf.tensor2d(grad, [rows, REPRESENTATION_DIM]), m);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(enc.apply(xT), dy)) as tf.Scalar,
        enc.vars,
      );
      value.dispose();
      const list = enc.vars.map((v) => grads[v.name]!);
      if (from === this.index) return list;
      // A caller's gradient is bounded before it touches our model.
      const norm = Math.sqrt(list.reduce((s, g) => s + (tf.sum(tf.square(g)).dataSync()[0] ?? 0), 0));
      if (!Number.isFinite(norm)) return [];
      const scale = norm > MAX_REMOTE_GRAD_NORM ? MAX_REMOTE_GRAD_NORM / norm : 1;
      return list.map((g) => tf.mul(g, scale));
    });
    if (kept.length === 0) return;
    const grads = kept;
    if (from !== this.index) this.remoteGradients++;
    if (!this.encoderGradAcc) this.encoderGradAcc = grads;
    else {
      const acc = this.encoderGradAcc;
      this.encoderGradAcc = acc.map((a, i) => tf.add(a, grads[i]!));
      tf.dispose(acc);
      tf.dispose(grads);
    }
  }

  // ---- training ------------------------------------------------------------------

  private allowedExperts(): number[] {
    if (this.opts.isolated) return [this.index];
    return Array.from({ length: this.n }, (_, j) => j);
  }

  /** Top-k routing per example; returns each expert's rows and the gate values g (rows × n). */
  private route(logits: Float32Array, rows: number, noise: Float32Array | null) {
    const allowed = this.allowedExperts();
    const k = Math.min(this.opts.k, allowed.length);
    const chosenMask = new Float32Array(rows * this.n).fill(-1e9);
    const g = new Float64Array(rows * this.n);
    const rowsOf: number[][] = Array.from({ length: this.n }, () => []);
    const scored = allowed.map((j) => ({ j, s: 0 }));
    for (let r = 0; r < rows; r++) {
      for (const e of scored) e.s = logits[r * this.n + e.j]! + (noise ? noise[r * this.n + e.j]! : 0);
      scored.sort((a, b) => b.s - a.s || a.j - b.j);
      const top = scored.slice(0, k);
      const max = top[0]!.s;
      let z = 0;
      for (const e of top) z += Math.exp(e.s - max);
      for (const e of top) {
        chosenMask[r * this.n + e.j] = 0;
        g[r * this.n + e.j] = Math.exp(e.s - max) / z;
        rowsOf[e.j]!.push(r);
      }
    }
    return { chosenMask, g, rowsOf };
  }

  private standIn(j: number): Mlp {
    let s = this.standIns[j];
    if (!s) {
      s = new Mlp(
        `swarm${nameCounter++}/p${this.index}/standin${j}`,
        [IMAGE_SIZE, REPRESENTATION_DIM],
        ['tanh'],
        this.rng,
      );
      this.standIns[j] = s;
    }
    return s;
  }

  /** Asks expert j for f_j(x); falls back to the stand-in. `ok` is false when the stand-in answered. */
  private async answer(
    network: ExpertNetwork,
    j: number,
    xs: Float32Array,
    m: number,
    ablated: number | null,
  ): Promise<{ data: Float32Array; ok: boolean; bad: boolean }> {
    if (j === ablated) return { data: new Float32Array(m * REPRESENTATION_DIM), ok: false, bad: false };
    if (j === this.index) return { data: this.forward(j, xs, m), ok: true, bad: false };
    let bad = false;
    try {
      const data = await network.forward(this.index, j, xs, m);
      if (data.length === m * REPRESENTATION_DIM && data.every(Number.isFinite))
        return { data, ok: true, bad };
      bad = true;
    } catch {
      // offline or timed out: the stand-in answers in its place, the step goes on
    }
    const s = this.standIn(j);
    const data = tf.tidy(() => s.apply(tf.tensor2d(xs, [m, IMAGE_SIZE])).dataSync() as Float32Array);
    return { data, ok: false, bad };
  }

  async trainStep(network: ExpertNetwork): Promise<StepResult> {
    const t0 = performance.now();
    const { encoder, gate, head, opts } = this;
    if (!encoder || !gate || !head || !opts.shard)
      throw new Error(`participant ${this.index} does not train`);
    const B = opts.batch;
    const batch = sampleBatch(opts.shard, B, this.rng);
    const noise = new Float32Array(B * this.n);
    for (let i = 0; i < noise.length; i++) noise[i] = this.rng.normal() * GATE_NOISE_STD;
    const xT = tf.tensor2d(batch.x, [B, IMAGE_SIZE]);
    const logits = tf.tidy(() => gate.apply(xT).dataSync() as Float32Array);
    const { chosenMask, g, rowsOf } = this.route(logits, B, noise);

    let networkMs = 0;
    let standIns = 0;
    let badAnswers = 0;
    const experts: { j: number; rows: number[]; xs: Float32Array; data: Float32Array; ok: boolean }[] = [];
    for (let j = 0; j < this.n; j++) {
      const rows = rowsOf[j]!;
      if (rows.length === 0) continue;
      const xs = gatherRows(batch.x, rows, IMAGE_SIZE);
      const tn = performance.now();
      const a = await this.answer(network, j, xs, rows.length, null);
      if (j !== this.index) networkMs += performance.now() - tn;
      if (!a.ok) standIns++;
      if (a.bad) badAnswers++;
      experts.push({ j, rows, xs, data: a.data, ok: a.ok });
    }

    const answerVars = experts.map((e) =>
      tf.tidy(() => tf.variable(tf.tensor2d(e.data, [e.rows.length, REPRESENTATION_DIM]), true)),
    );
    const labels = tf.tidy(() => tf.oneHot(tf.tensor1d(batch.labels, 'int32'), NUM_CLASSES));
    const noiseT = tf.tensor2d(noise, [B, this.n]);
    const chosenT = tf.tensor2d(chosenMask, [B, this.n]);
    const selectors = experts.map((e) => selector(e.rows, B));
    let ceValue = 0;
    const { value, grads } = tf.variableGrads(() => {
      const gates = tf.softmax(tf.add(tf.add(gate.apply(xT), noiseT), chosenT));
      const slots: tf.Tensor2D[] = Array.from({ length: this.n }, () => tf.zeros([B, REPRESENTATION_DIM]));
      experts.forEach((e, idx) => {
        const gj = tf.slice(gates, [0, e.j], [B, 1]);
        slots[e.j] = tf.mul(gj, tf.matMul(selectors[idx]!, answerVars[idx]!));
      });
      const G = this.opts.combine === 'concat' ? tf.concat(slots, 1) : (tf.addN(slots) as tf.Tensor2D);
      const ce = tf.losses.softmaxCrossEntropy(labels, head.apply(G));
      ceValue = ce.dataSync()[0] ?? Number.NaN;
      const importance = tf.sum(gates, 0);
      const { mean, variance } = tf.moments(importance);
      const cv2 = tf.div(variance, tf.add(tf.square(mean), 1e-9));
      return tf.add(ce, tf.mul(cv2, LOAD_BALANCE_WEIGHT)) as tf.Scalar;
    }, [...gate.vars, ...head.vars, ...answerVars]);
    value.dispose();

    // Scores: gate importance and the Fisher term (B·∂L/∂f_j · f_j)² per example.
    const importance = new Float64Array(this.n);
    for (let r = 0; r < B; r++) for (let j = 0; j < this.n; j++) importance[j]! += g[r * this.n + j]! / B;
    const fisher = new Float64Array(this.n);
    const backwards: Promise<void>[] = [];
    experts.forEach((e, idx) => {
      const gradT = grads[answerVars[idx]!.name]!;
      const gd = gradT.dataSync() as Float32Array;
      for (let r = 0; r < e.rows.length; r++) {
        let dot = 0;
        for (let c = 0; c < REPRESENTATION_DIM; c++)
          dot += gd[r * REPRESENTATION_DIM + c]! * e.data[r * REPRESENTATION_DIM + c]!;
        // Per-example d = ∂L_x/∂f_j · f_j (the batch loss is a mean, hence ·B).
        // Removing f_j (ΔF = −f_j) costs ≈ −d + ½d² (Taylor, Fisher Hessian): eq 3's
        // quadratic term plus the linear one, which the paper drops only because it
        // assumes a converged network; mid-training it carries the sign, so an
        // expert whose answers hurt scores nothing.
        const d = dot * B;
        fisher[e.j]! += (-d + 0.5 * d * d) / B;
      }
      if (e.j === this.index) this.backward(this.index, e.xs, e.rows.length, gd);
      else if (e.ok)
        backwards.push(network.backward(this.index, e.j, e.xs, e.rows.length, gd).catch(() => {}));
    });
    const tb = performance.now();
    await Promise.all(backwards);
    networkMs += performance.now() - tb;
    for (let j = 0; j < this.n; j++) {
      this.importanceEma[j] =
        SCORE_EMA_DECAY * this.importanceEma[j]! + (1 - SCORE_EMA_DECAY) * importance[j]!;
      this.fisherEma[j] = SCORE_EMA_DECAY * this.fisherEma[j]! + (1 - SCORE_EMA_DECAY) * fisher[j]!;
    }

    // One optimizer step over gate, head and the encoder (own + callers' gradients).
    const named: tf.NamedTensorMap = {};
    for (const v of [...gate.vars, ...head.vars]) named[v.name] = grads[v.name]!;
    const acc = this.encoderGradAcc;
    if (acc)
      encoder.vars.forEach((v, i) => {
        named[v.name] = acc[i]!;
      });
    this.optimizer.applyGradients(named);
    tf.dispose(acc ?? []);
    this.encoderGradAcc = null;
    tf.dispose(grads);

    // Distillation (§1.8): stand-ins learn to mimic the answers they may replace.
    for (const e of experts) {
      if (!e.ok || e.j === this.index) continue;
      const s = this.standIn(e.j);
      const cost = this.standInOptimizer.minimize(
        () =>
          tf.losses.meanSquaredError(
            tf.tensor2d(e.data, [e.rows.length, REPRESENTATION_DIM]),
            s.apply(tf.tensor2d(e.xs, [e.rows.length, IMAGE_SIZE])),
          ) as tf.Scalar,
        false,
        s.vars,
      );
      cost?.dispose();
    }
    tf.dispose([xT, labels, noiseT, chosenT, ...selectors, ...answerVars]);
    return { loss: ceValue, standIns, badAnswers, networkMs, totalMs: performance.now() - t0 };
  }

  /**
   * Held-out loss without gate noise. `ablated` zeroes expert j's input in
   * G(x) (ΔF = −f_j of eq 2) while the gate stays as it is.
   */
  async evaluate(network: ExpertNetwork, data: Dataset, ablated: number | null = null): Promise<EvalResult> {
    const { gate, head } = this;
    if (!gate || !head) throw new Error(`participant ${this.index} is not evaluated`);
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < data.count; start += EVAL_CHUNK_ROWS) {
      const rows = Math.min(EVAL_CHUNK_ROWS, data.count - start);
      const x = data.x.subarray(start * IMAGE_SIZE, (start + rows) * IMAGE_SIZE);
      const logits = tf.tidy(() => gate.apply(tf.tensor2d(x, [rows, IMAGE_SIZE])).dataSync() as Float32Array);
      const { g, rowsOf } = this.route(logits, rows, null);
      const width = this.headInput();
      const G = new Float32Array(rows * width);
      for (let j = 0; j < this.n; j++) {
        const rs = rowsOf[j]!;
        if (rs.length === 0) continue;
        const a = await this.answer(network, j, gatherRows(x, rs, IMAGE_SIZE), rs.length, ablated);
        const offset = this.opts.combine === 'concat' ? j * REPRESENTATION_DIM : 0;
        rs.forEach((r, q) => {
          const gj = g[r * this.n + j]!;
          for (let c = 0; c < REPRESENTATION_DIM; c++)
            G[r * width + offset + c]! += gj * a.data[q * REPRESENTATION_DIM + c]!;
        });
      }
      const labels = data.labels.subarray(start, start + rows);
      const [ce, pred] = tf.tidy(() => {
        const out = head.apply(tf.tensor2d(G, [rows, width]));
        const l = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), NUM_CLASSES), out);
        return [l.dataSync()[0] ?? Number.NaN, tf.argMax(out, 1).dataSync() as Int32Array] as const;
      });
      lossSum += ce * rows;
      for (let r = 0; r < rows; r++) if (pred[r] === labels[r]) correct++;
    }
    return { loss: lossSum / data.count, accuracy: correct / data.count };
  }

  /** This peer's honest row of W: half gate-importance share, half share of the estimated removal cost, on the simplex. */
  scoreRow(): Float64Array {
    const row = new Float64Array(this.n);
    if (this.opts.isolated) {
      row[this.index] = 1; // isolated peers query nobody, so they can only score themselves
      return row;
    }
    let si = 0;
    let sf = 0;
    const removal = Array.from(this.fisherEma, (v) => Math.max(0, v));
    for (let j = 0; j < this.n; j++) {
      si += this.importanceEma[j]!;
      sf += removal[j]!;
    }
    for (let j = 0; j < this.n; j++)
      row[j] =
        0.5 * (si > 0 ? this.importanceEma[j]! / si : 1 / this.n) +
        0.5 * (sf > 0 ? removal[j]! / sf : 1 / this.n);
    return projectToSimplex(row);
  }

  dispose(): void {
    this.encoder?.dispose();
    this.gate?.dispose();
    this.head?.dispose();
    for (const s of this.standIns) s?.dispose();
    tf.dispose(this.encoderGradAcc ?? []);
    this.encoderGradAcc = null;
    this.optimizer.dispose();
    this.standInOptimizer.dispose();
  }
}

/** tfjs's Adam constructor leaves the scalars it turns into variables undisposed; tidy catches them. */
function tidyAdam(learningRate: number): tf.Optimizer {
  let opt: tf.Optimizer | null = null;
  tf.tidy(() => {
    opt = tf.train.adam(learningRate);
  });
  return opt!;
}

function gatherRows(x: Float32Array, rows: number[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, q) => {
    out.set(x.subarray(r * width, (r + 1) * width), q * width);
  });
  return out;
}

/** B × m one-hot matrix that scatters an expert's m answer rows back to their batch rows. */
function selector(rows: number[], B: number): tf.Tensor2D {
  const m = new Float32Array(B * rows.length);
  rows.forEach((r, q) => {
    m[r * rows.length + q] = 1;
  });
  return tf.tensor2d(m, [B, rows.length]);
}
