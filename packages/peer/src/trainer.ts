/**
 * One training step of peer i (§1.6 + §1.7 + §1.8; DESIGN.md "One training
 * step of peer i"):
 *
 *  1. draw a batch x from D_i;
 *  2. the local encoder gives the gate its context h(x) = f_i(x); the noisy
 *     top-k gate picks k expert slots per example (self is slot 0);
 *  3. each chosen remote peer j gets `forward` with just the rows routed to
 *     it, in parallel; answers are validated (shape, NaN/Inf); after k_min
 *     answers plus a grace period the step proceeds, and every expert that
 *     did not answer in time (or left, or sent garbage) is replaced by its
 *     distilled stand-in — never by a deeper query;
 *  4. G(x) = [g_0 f_0, …, g_{N−1} f_{N−1}] (eq 10, one d-block per slot; or
 *     Σ_j g_j f_j with `combine: 'sum'`) → head → L_i (cross-entropy), plus
 *     the gate's importance balance; valid answers also train the stand-ins;
 *  5. `backward(∂L_i/∂f_j(x))` to every j that answered;
 *  6. the scorer records gate importance and the removal cost of eq 3 (with
 *     its first-order term) per expert.
 *
 * Gradients w.r.t. the remote answers come out of the same tape as the
 * weights' gradients: the answers are inputs of the loss like any variable.
 */
import { createRng } from '@peerbench/mechanism';
import {
  type ExpertNetwork,
  invalidTensorReason,
  MAX_FORWARD_ROWS,
  type WireDtype,
  type WireTensor,
} from '@peerbench/mesh';
import * as tf from '@tensorflow/tfjs';
import { StandIns } from './distillation.js';
import { availableTensor, importanceCv2, NoisyTopKGate, type Routing } from './gate.js';
import { exportVariables, Mlp, type NamedWeights, uniqueScope } from './model.js';
import { DEFAULT_SCORER_OPTIONS, removalCost, Scorer, type ScorerOptions } from './scorer.js';
import type { Batch, Task } from './task.js';

export interface ModelOptions {
  /** Network-wide representation width d of f_i(x) (every peer must agree). */
  representationSize: number;
  /** Hidden width of the encoder f_i. */
  encoderHidden: number;
  /** Hidden width of the head on G(x). */
  headHidden: number;
  /** Expert slots including self: at most this many peers can be gated. */
  maxExperts: number;
  /** Experts per example (k of top-k), self included. */
  topK: number;
  /** Adam learning rate of the local model. */
  learningRate: number;
  /** Weight of the CV² importance term in the loss (Shazeer et al. use 0.1). */
  balanceWeight: number;
  /** Hidden width of each distilled stand-in. */
  standInHidden: number;
  standInLearningRate: number;
  /** A stand-in answers only after this many distillation steps. */
  standInMinSteps: number;
  /** Distil the stand-ins on every n-th step only (each fit is a full optimiser step per remote peer). */
  distillEverySteps: number;
  /**
   * How G(x) joins the experts (eq 10). 'concat': [g_0 f_0, …, g_{N−1} f_{N−1}]
   * over the N = maxExperts slots (slot 0 = self; a slot with nothing to give
   * is zeros), so the head reads N·d values and can tell the experts' spaces
   * apart — measured: sharing lowered B by 28% against isolated training.
   * 'sum': Σ_j g_j f_j (head input d) — measured: sharing did not beat
   * isolated training, one head cannot read a sum of independently learned
   * spaces.
   */
  combine: CombineMode;
  /** Seed of the weight initialisation (undefined = random). */
  seed?: number;
  /**
   * Share of the input features the encoder sees, in (0, 1]: a seeded random
   * subset (see `inputViewMask`); the rest is zeroed. A private view of the
   * input bounds what f_i can know however much it is trained by others, so
   * the swarm's `--quality views` gives peers a usefulness order sharing
   * cannot erase. Undefined or 1: the whole input.
   */
  inputView?: number;
  /** Scorer settings (removal source, window, gate-importance share); see scorer.ts. */
  scoring?: Partial<Omit<ScorerOptions, 'slots'>>;
}

/** How G(x) joins the experts' answers (see ModelOptions.combine). */
export type CombineMode = 'concat' | 'sum';

export interface StepOptions {
  batchSize: number;
  /** Proceed once this many remote answers are in (capped at the number of requests)... */
  kMin: number;
  /** ...plus this grace period for the others, in ms. */
  graceMs: number;
  /** A forward that takes longer than this is abandoned, in ms. */
  forwardTimeoutMs: number;
  backwardTimeoutMs: number;
  /** Precision on the wire of the forward request (x) and answer, and of the gradient sent back. */
  wireDtype: WireDtype;
}

export const DEFAULT_MODEL_OPTIONS: ModelOptions = {
  representationSize: 64,
  encoderHidden: 128,
  headHidden: 64,
  maxExperts: 8,
  topK: 2,
  learningRate: 0.003,
  balanceWeight: 0.1,
  standInHidden: 64,
  standInLearningRate: 0.003,
  standInMinSteps: 5,
  distillEverySteps: 2,
  combine: 'concat',
};

export const DEFAULT_STEP_OPTIONS: StepOptions = {
  batchSize: 32,
  kMin: 1,
  graceMs: 50,
  forwardTimeoutMs: 2000,
  backwardTimeoutMs: 2000,
  wireDtype: 'fp32',
};

/** Where each expert's contribution in a step came from. */
export type ExpertSource = 'self' | 'remote' | 'stand-in' | 'none';

/** Counters of remote answers since start (the caller's defences). */
export interface AnswerStats {
  requested: number;
  accepted: number;
  /** NaN/Inf or wrong shape: ignored. */
  invalid: number;
  /** Not back within k_min + grace or the timeout: stand-in used. */
  late: number;
  /** Peer gone, refused, or any transport error. */
  failed: number;
  /** Contributions served by a distilled stand-in (for any reason). */
  standIn: number;
  backwardSent: number;
  backwardFailed: number;
  /** Forward payload bytes sent (inputs) and received (answers, at the wire dtype). */
  forwardRequestBytes: number;
  forwardAnswerBytes: number;
}

export interface StepResult {
  step: number;
  /** Cross-entropy L_i of this batch. */
  loss: number;
  /** The importance balance term (before weighting). */
  balance: number;
  /** Per slot: which source answered (slot 0 = self). */
  sources: ExpertSource[];
  /** Per slot: rows routed to it in this batch. */
  routed: number[];
  /** Wall time of the step, in ms. */
  durationMs: number;
}

export interface EvalResult {
  loss: number;
  accuracy: number;
}

export interface EvaluateLiveOptions {
  /**
   * Zero this peer's contribution f_j in G(x) (ΔF = −f_j of eq 2), the gate
   * left unchanged. May be the trainer's own selfId (slot 0). A peer that has
   * no slot changes nothing. null/undefined: no ablation.
   */
  ablate?: string | null;
  /** Evaluate on these examples instead of the task's balanced held-out set (e.g. its validation slice). */
  data?: Batch;
  /** Aborts the outstanding forwards; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

interface Pending {
  slot: number;
  peerId: string;
  rows: number[];
  answer: WireTensor | null;
  outcome: 'pending' | 'ok' | 'invalid' | 'late' | 'failed';
}

let requestCounter = 0;
function newRequestId(): string {
  return `${Date.now().toString(36)}-${(++requestCounter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

function gatherRows(x: Float32Array, width: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    out.set(x.subarray(r * width, (r + 1) * width), i * width);
  }
  return out;
}

/** 0/1 over `inputSize` features with round(view·inputSize) ones (at least one), a seeded random subset. */
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

/** [mean cross-entropy, correct predictions] of one evaluation batch, as one tensor to read. */
function lossAndHits(y: tf.Tensor2D, logits: tf.Tensor2D): tf.Tensor1D {
  const loss = tf.losses.softmaxCrossEntropy(y, logits);
  const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(y, 1)), 'float32'));
  return tf.stack([loss, hits]) as tf.Tensor1D;
}

async function readAndDispose(t: tf.Tensor): Promise<Float32Array> {
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

export class Trainer {
  readonly encoder: Mlp;
  readonly head: Mlp;
  readonly gate: NoisyTopKGate;
  readonly standIns: StandIns;
  readonly scorer: Scorer;
  /** slot → peerId; slot 0 is self. */
  readonly slots: (string | null)[];
  readonly answers: AnswerStats = {
    requested: 0,
    accepted: 0,
    invalid: 0,
    late: 0,
    failed: 0,
    standIn: 0,
    backwardSent: 0,
    backwardFailed: 0,
    forwardRequestBytes: 0,
    forwardAnswerBytes: 0,
  };
  stepCount = 0;
  private readonly optimizer: tf.Optimizer;
  private readonly d: number;

  constructor(
    readonly task: Task,
    readonly selfId: string,
    private network: ExpertNetwork | null,
    readonly model: ModelOptions = DEFAULT_MODEL_OPTIONS,
    public stepOptions: StepOptions = DEFAULT_STEP_OPTIONS,
  ) {
    const scope = uniqueScope();
    this.d = model.representationSize;
    const seed = model.seed;
    // tanh keeps every representation in [-1, 1]: answers from different peers share one scale.
    const view = model.inputView;
    this.encoder = new Mlp(
      'encoder',
      {
        sizes: [task.inputSize, model.encoderHidden, this.d],
        activations: ['relu', 'tanh'],
        ...(view !== undefined && view < 1
          ? { inputMask: inputViewMask(task.inputSize, view, (seed ?? 0) + 300) }
          : {}),
      },
      seed,
      scope,
    );
    this.head = new Mlp(
      'head',
      {
        sizes: [
          this.combineMode() === 'concat' ? model.maxExperts * this.d : this.d,
          model.headHidden,
          task.numClasses,
        ],
        activations: ['relu', 'linear'],
      },
      seed === undefined ? undefined : seed + 1,
      scope,
    );
    this.gate = new NoisyTopKGate({
      inputSize: this.d,
      slots: model.maxExperts,
      k: model.topK,
      scope,
      ...(seed === undefined ? {} : { noiseSeed: seed + 200 }),
    });
    this.standIns = new StandIns({
      inputSize: task.inputSize,
      outputSize: this.d,
      hidden: model.standInHidden,
      learningRate: model.standInLearningRate,
      minTrainingSteps: model.standInMinSteps,
      scope,
      ...(seed === undefined ? {} : { seed: seed + 100 }),
    });
    this.scorer = new Scorer({ slots: model.maxExperts, ...DEFAULT_SCORER_OPTIONS, ...model.scoring });
    this.slots = new Array<string | null>(model.maxExperts).fill(null);
    this.slots[0] = selfId;
    this.optimizer = tf.train.adam(model.learningRate);
  }

  setNetwork(network: ExpertNetwork | null): void {
    this.network = network;
  }

  /** 'concat' unless the options say 'sum' (options built before `combine` existed mean the paper's form). */
  combineMode(): CombineMode {
    return this.model.combine === 'sum' ? 'sum' : 'concat';
  }

  /**
   * G(x) of eq 10 from per-slot contributions f_s (null = nothing to give,
   * e.g. an unavailable or ablated slot) and the gates g [B, N]: the
   * concatenation of the N blocks g_s·f_s (zeros for null), or their sum.
   * Differentiable w.r.t. every contribution and the gates.
   */
  combine(B: number, g: tf.Tensor2D, contributions: ReadonlyArray<tf.Tensor2D | null>): tf.Tensor2D {
    const d = this.d;
    const blocks: tf.Tensor2D[] = [];
    for (let s = 0; s < this.slots.length; s++) {
      const f = contributions[s];
      if (f) blocks.push(tf.mul(f, tf.slice(g, [0, s], [B, 1])));
      else if (this.combineMode() === 'concat') blocks.push(tf.zeros([B, d]));
    }
    if (this.combineMode() === 'concat') return tf.concat(blocks, 1);
    if (blocks.length === 0) return tf.zeros([B, d]);
    return blocks.length === 1 ? blocks[0]! : (tf.addN(blocks) as tf.Tensor2D);
  }

  private trainableVariables(): tf.Variable[] {
    return [...this.encoder.variables(), ...this.gate.variables(), ...this.head.variables()];
  }

  /** Gives every newly seen peer a free slot (first come; a full table ignores newcomers). */
  private assignSlots(online: string[]): void {
    for (const peerId of online) {
      if (this.slots.includes(peerId)) continue;
      const free = this.slots.indexOf(null);
      if (free < 0) return;
      this.slots[free] = peerId;
      this.standIns.drop(free);
      this.scorer.resetSlot(free);
    }
  }

  /** Slots the gate may choose: self, reachable peers, and absent peers whose stand-in is trained. */
  availability(online: Set<string>): boolean[] {
    return this.slots.map((peerId, s) => {
      if (s === 0) return true;
      if (peerId === null) return false;
      return online.has(peerId) || this.standIns.ready(s);
    });
  }

  /** Sends the forwards and waits: k_min answers, then a grace period (or until all are in, or the timeout). */
  private async collect(pending: Pending[], x: Float32Array): Promise<void> {
    const net = this.network;
    if (!net || pending.length === 0) return;
    const opts = this.stepOptions;
    const controller = new AbortController();
    const kMin = Math.min(opts.kMin, pending.length);
    let answered = 0;
    let settled = 0;
    let wake: (() => void) | null = null;
    const poke = () => wake?.();
    for (const p of pending) {
      const input: WireTensor = {
        shape: [p.rows.length, this.task.inputSize],
        data: gatherRows(x, this.task.inputSize, p.rows),
      };
      this.answers.requested++;
      this.answers.forwardRequestBytes += input.data.length * (opts.wireDtype === 'fp16' ? 2 : 4);
      const requestId = newRequestId();
      (p as Pending & { requestId: string }).requestId = requestId;
      net
        .forward(p.peerId, input, {
          requestId,
          timeoutMs: opts.forwardTimeoutMs,
          signal: controller.signal,
          wireDtype: opts.wireDtype,
        })
        .then(
          (answer) => {
            if (p.outcome !== 'pending') return;
            this.answers.forwardAnswerBytes += answer.data.length * (opts.wireDtype === 'fp16' ? 2 : 4);
            if (invalidTensorReason(answer, [p.rows.length, this.d])) {
              p.outcome = 'invalid';
              this.answers.invalid++;
            } else {
              p.outcome = 'ok';
              p.answer = answer;
              answered++;
            }
          },
          (err: unknown) => {
            if (p.outcome !== 'pending') return;
            // A transport timeout is lateness, like an answer that misses the grace period.
            p.outcome = (err as { code?: string } | null)?.code === 'timeout' ? 'late' : 'failed';
          },
        )
        .finally(() => {
          settled++;
          poke();
        });
    }
    const waitUntil = (cond: () => boolean, ms: number) =>
      new Promise<void>((resolve) => {
        if (cond()) return resolve();
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = null;
          resolve();
        }
        wake = () => {
          if (cond()) done();
        };
      });
    const t0 = performance.now();
    await waitUntil(() => answered >= kMin || settled === pending.length, opts.forwardTimeoutMs);
    const left = Math.max(0, opts.forwardTimeoutMs - (performance.now() - t0));
    await waitUntil(() => settled === pending.length, Math.min(opts.graceMs, left));
    controller.abort();
    for (const p of pending) {
      if (p.outcome === 'pending') p.outcome = 'late';
      if (p.outcome === 'late') this.answers.late++;
      else if (p.outcome === 'failed') this.answers.failed++;
    }
  }

  /** One training step; never throws because a peer misbehaved or left. */
  async step(): Promise<StepResult> {
    const t0 = performance.now();
    const batch = this.task.nextBatch(this.stepOptions.batchSize);
    const B = batch.size;
    const online = new Set(this.network?.peers() ?? []);
    this.assignSlots([...online]);
    const available = this.availability(online);

    // Routing is decided outside the tape so the RPCs can go out now.
    const hRoute = tf.tidy(() => this.encoder.apply(tf.tensor2d(batch.x, [B, this.task.inputSize])));
    let routing: Routing;
    try {
      routing = await this.gate.route(hRoute, available, true);
    } finally {
      hRoute.dispose();
    }

    const pending: Pending[] = [];
    for (let s = 1; s < this.slots.length; s++) {
      const peerId = this.slots[s];
      const rows = routing.rowsBySlot[s]!;
      if (peerId && rows.length > 0 && online.has(peerId))
        pending.push({ slot: s, peerId, rows, answer: null, outcome: 'pending' });
    }
    let result: Awaited<ReturnType<Trainer['learn']>>;
    try {
      await this.collect(pending, batch.x);
      result = await this.learn(batch, routing, available, pending);
    } finally {
      routing.noise?.dispose();
    }
    this.sendBackward(pending, result.answerGrads);
    this.stepCount++;
    return {
      step: this.stepCount,
      loss: result.loss,
      balance: result.balance,
      sources: result.sources,
      routed: routing.rowsBySlot.map((r) => r.length),
      durationMs: performance.now() - t0,
    };
  }

  /**
   * Distillation, the tape, the update (all in one synchronous tidy), then
   * the scores: everything the step needs on the host (loss, balance,
   * importance, removal costs, the answer gradients, the stand-ins' losses)
   * is packed into one tensor on the device and read back once, without
   * blocking (issue 19: a synchronous read stalls a GPU pipeline, and on
   * tfjs-webgpu it lost the device and the page never stepped again).
   */
  private async learn(
    batch: Batch,
    routing: Routing,
    available: boolean[],
    pending: Pending[],
  ): Promise<{
    loss: number;
    balance: number;
    sources: ExpertSource[];
    answerGrads: Map<number, Float32Array>;
  }> {
    const B = batch.size;
    const N = this.slots.length;
    const d = this.d;
    const bySlot = new Map(pending.map((p) => [p.slot, p]));
    const sources: ExpertSource[] = new Array<ExpertSource>(N).fill('none');
    sources[0] = 'self';
    // The layout of the packed readback, in order: [loss, balance, importance (N)], then these.
    const removalSlots: number[] = [];
    const gradSlots: { slot: number; size: number }[] = [];
    const distilled: number[] = [];

    const packed = tf.tidy(() => {
      const x = tf.tensor2d(batch.x, [B, this.task.inputSize]);
      const y = tf.tensor2d(batch.y, [B, this.task.numClasses]);
      const avail = availableTensor(available);
      const standInLosses: tf.Scalar[] = [];
      // Expert inputs of the loss, only for slots that contribute this step
      // (the others have g = 0 or nothing to give). Slot 0 is a zero "tap"
      // added to f_i(x), so its gradient is ∂L/∂f_i(x) through G alone; the
      // remote answers and stand-in outputs are constants of the tape.
      const active: number[] = [0];
      const experts: tf.Tensor2D[] = [tf.zeros([B, d])];
      for (let s = 1; s < N; s++) {
        const p = bySlot.get(s);
        if (p?.outcome === 'ok' && p.answer) {
          sources[s] = 'remote';
          this.answers.accepted++;
          const full = new Float32Array(B * d);
          for (let i = 0; i < p.rows.length; i++)
            full.set(p.answer.data.subarray(i * d, (i + 1) * d), p.rows[i]! * d);
          const rowsX = tf.tensor2d(gatherRows(batch.x, this.task.inputSize, p.rows), [
            p.rows.length,
            this.task.inputSize,
          ]);
          // §1.8: the stand-in learns what this peer answers (detached).
          if (this.stepCount % Math.max(1, this.model.distillEverySteps) === 0) {
            standInLosses.push(this.standIns.fit(s, rowsX, tf.tensor2d(p.answer.data, [p.rows.length, d])));
            distilled.push(s);
          }
          active.push(s);
          experts.push(tf.tensor2d(full, [B, d]));
        } else if (routing.rowsBySlot[s]!.length > 0 && this.standIns.ready(s)) {
          sources[s] = 'stand-in';
          this.answers.standIn++;
          active.push(s);
          experts.push(this.standIns.predict(s, x));
        }
      }
      const vars = this.trainableVariables();
      // What the loss function computes on the way, kept past the tape to be read.
      const seen: { gates?: tf.Tensor2D; ce?: tf.Scalar; balance?: tf.Scalar; selfF?: tf.Tensor2D } = {};
      const lossFn = () => {
        const h = this.encoder.apply(x);
        const g = this.gate.gates(h, routing, avail);
        const contributions: (tf.Tensor2D | null)[] = new Array<tf.Tensor2D | null>(N).fill(null);
        contributions[0] = tf.add(h, experts[0]!) as tf.Tensor2D;
        for (let a = 1; a < active.length; a++) contributions[active[a]!] = experts[a]!;
        const G = this.combine(B, g, contributions);
        const logits = this.head.apply(G);
        const c = tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
        const b = importanceCv2(g, avail);
        // tf.keep: the tape's own scope would free them; this tidy frees them.
        seen.gates = tf.keep(g);
        seen.ce = tf.keep(c);
        seen.balance = tf.keep(b);
        seen.selfF = tf.keep(h);
        return tf.add(c, tf.mul(b, this.model.balanceWeight)) as tf.Scalar;
      };
      const xs = [...vars, ...experts];
      const { grads } = tf.engine().gradients(lossFn, xs, undefined, true);
      try {
        const { gates, ce, balance, selfF } = seen;
        if (!gates || !ce || !balance || !selfF) throw new Error('the loss function did not run');
        const varGrads: Record<string, tf.Tensor> = {};
        vars.forEach((v, i) => {
          const g = grads[i];
          if (g) varGrads[v.name] = g;
        });
        this.optimizer.applyGradients(varGrads);

        // Scores: importance Σ_b g_bj and the removal cost of eq 3 with its
        // first-order term, mean_b(−d_b + ½d_b²). The batch loss is a mean, so
        // the per-example derivative is B·∂L/∂f_j(x_b): d_b = B·(∂L/∂f_j · f_j).
        const reads: tf.Tensor[] = [tf.reshape(ce, [1]), tf.reshape(balance, [1]), tf.sum(gates, 0)];
        const gradReads: tf.Tensor[] = [];
        for (let a = 0; a < active.length; a++) {
          const s = active[a]!;
          const dA = grads[vars.length + a];
          if (!dA) continue;
          const value = a === 0 ? selfF : experts[a]!;
          removalSlots.push(s);
          reads.push(tf.mul(tf.sum(tf.mul(dA, value), 1), B));
          if (sources[s] === 'remote') {
            const rows = bySlot.get(s)!.rows;
            gradSlots.push({ slot: s, size: rows.length * d });
            gradReads.push(tf.reshape(tf.gather(dA, rows), [-1]));
          }
        }
        for (const l of standInLosses) reads.push(tf.reshape(l, [1]));
        return tf.concat([...reads, ...gradReads]);
      } finally {
        // tf.keep'd inside the tape: no tidy frees them.
        for (const t of Object.values(seen)) t.dispose();
      }
    });

    let values: Float32Array;
    try {
      values = (await packed.data()) as Float32Array;
    } finally {
      packed.dispose();
    }
    let offset = 0;
    const take = (n: number) => {
      const out = values.slice(offset, offset + n);
      offset += n;
      return out;
    };
    const [loss, balance] = take(2);
    const importance = take(N);
    const removal = new Float64Array(N);
    for (const s of removalSlots) removal[s] = removalCost(take(B));
    for (const s of distilled) this.standIns.recordLoss(s, take(1)[0]!);
    const answerGrads = new Map<number, Float32Array>();
    for (const { slot, size } of gradSlots) answerGrads.set(slot, take(size));
    this.scorer.observe(importance, removal);
    return { loss: loss!, balance: balance!, sources, answerGrads };
  }

  private readonly inflightBackwards = new Set<Promise<void>>();

  private sendBackward(pending: Pending[], answerGrads: Map<number, Float32Array>): void {
    const net = this.network;
    if (!net) return;
    for (const p of pending) {
      const grad = answerGrads.get(p.slot);
      const requestId = (p as Pending & { requestId?: string }).requestId;
      if (!grad || !requestId) continue;
      this.answers.backwardSent++;
      const sent: Promise<void> = net
        .backward(
          p.peerId,
          { shape: [p.rows.length, this.d], data: grad },
          {
            requestId,
            timeoutMs: this.stepOptions.backwardTimeoutMs,
            wireDtype: this.stepOptions.wireDtype,
          },
        )
        .catch(() => {
          this.answers.backwardFailed++;
        })
        .finally(() => this.inflightBackwards.delete(sent));
      this.inflightBackwards.add(sent);
    }
  }

  /**
   * Resolves when every backward sent so far has been answered or has failed.
   * The step never waits for them (§1.6: a caller does not block on its
   * experts' updates); a lockstep swarm does, so a seeded run does not depend
   * on when the machine gets round to applying them.
   */
  async settleBackwards(): Promise<void> {
    await Promise.allSettled([...this.inflightBackwards]);
  }

  /**
   * Loss and accuracy on the task's held-out set, offline: remote experts are
   * represented by their stand-ins (§1.8: private data is validated over the
   * distilled models instead of querying the network). No gate noise.
   */
  async evaluate(): Promise<EvalResult> {
    const ev = this.task.evalSet();
    const available = this.slots.map((p, s) => s === 0 || (p !== null && this.standIns.ready(s)));
    const x = tf.tensor2d(ev.x, [ev.size, this.task.inputSize]);
    const h = this.encoder.apply(x);
    try {
      const routing = await this.gate.route(h, available, false);
      const sums = tf.tidy(() => {
        const y = tf.tensor2d(ev.y, [ev.size, this.task.numClasses]);
        const g = this.gate.gates(h, routing, availableTensor(available));
        const contributions = this.slots.map((_, s) =>
          s === 0 ? h : available[s] ? this.standIns.predict(s, x) : null,
        );
        const logits = this.head.apply(this.combine(ev.size, g, contributions));
        return lossAndHits(y, logits);
      });
      const [loss, hits] = await readAndDispose(sums);
      return { loss: loss!, accuracy: hits! / ev.size };
    } finally {
      tf.dispose([x, h]);
    }
  }

  /**
   * Loss and accuracy on the task's held-out set with the live network: no
   * gate noise; every slot the gate routes to is answered by its peer over the
   * network (`forward`, at most MAX_FORWARD_ROWS rows per request), or by its
   * stand-in when the peer is absent, fails, is late or answers garbage
   * (validated as in `step`). `ablate` zeroes one peer's f_j in G(x) with the
   * gate unchanged — eq 2's ΔF = −f_j, measured instead of estimated.
   * Read-only: no backward is sent (the experts' saved inputs expire by their
   * TTL / count bound), no weight, score, stand-in or counter changes.
   */
  async evaluateLive(opts: EvaluateLiveOptions = {}): Promise<EvalResult> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const ev = opts.data ?? this.task.evalSet();
    const inputSize = this.task.inputSize;
    const d = this.d;
    const ablated = opts.ablate == null ? -1 : this.slots.indexOf(opts.ablate);
    const online = new Set(this.network?.peers() ?? []);
    // Same availability as a training step, without giving newcomers slots (read-only).
    const available = this.availability(online);
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < ev.size; start += MAX_FORWARD_ROWS) {
      const rows = Math.min(MAX_FORWARD_ROWS, ev.size - start);
      const xs = ev.x.subarray(start * inputSize, (start + rows) * inputSize);
      const ys = ev.y.subarray(start * this.task.numClasses, (start + rows) * this.task.numClasses);
      const x = tf.tensor2d(xs, [rows, inputSize]);
      const h = this.encoder.apply(x);
      try {
        const routing = await this.gate.route(h, available, false);
        const answers = await this.liveAnswers(routing, xs, online, ablated, signal);
        signal?.throwIfAborted();
        const chunk = tf.tidy(() => {
          const y = tf.tensor2d(ys, [rows, this.task.numClasses]);
          const g = this.gate.gates(h, routing, availableTensor(available));
          const contributions: (tf.Tensor2D | null)[] = this.slots.map((_, s) => {
            if (s === ablated) return null;
            if (s === 0) return h;
            const answer = answers.get(s);
            if (answer) {
              const full = new Float32Array(rows * d);
              const rs = routing.rowsBySlot[s]!;
              for (let i = 0; i < rs.length; i++) full.set(answer.subarray(i * d, (i + 1) * d), rs[i]! * d);
              return tf.tensor2d(full, [rows, d]);
            }
            // Absent, failed or garbage: the stand-in, when it is trained; else nothing.
            return routing.rowsBySlot[s]!.length > 0 && this.standIns.ready(s)
              ? this.standIns.predict(s, x)
              : null;
          });
          const logits = this.head.apply(this.combine(rows, g, contributions));
          return lossAndHits(y, logits);
        });
        const [loss, hits] = await readAndDispose(chunk);
        // softmaxCrossEntropy averages over the chunk; weight it by its rows.
        lossSum += loss! * rows;
        correct += hits!;
      } finally {
        tf.dispose([x, h]);
      }
    }
    return { loss: lossSum / Math.max(1, ev.size), accuracy: correct / Math.max(1, ev.size) };
  }

  /** The peers the network can reach now. */
  onlinePeers(): Set<string> {
    return new Set(this.network?.peers() ?? []);
  }

  /** The valid live answers of one evaluation chunk, slot → [rows routed, d] values (`ablated`: not asked). */
  async liveAnswers(
    routing: Routing,
    xs: Float32Array,
    online: Set<string>,
    ablated: number,
    signal: AbortSignal | undefined,
  ): Promise<Map<number, Float32Array>> {
    const out = new Map<number, Float32Array>();
    const net = this.network;
    if (!net) return out;
    const controller = new AbortController();
    const abort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await Promise.all(
        this.slots.map(async (peerId, s) => {
          const rs = routing.rowsBySlot[s]!;
          if (s === 0 || s === ablated || !peerId || rs.length === 0 || !online.has(peerId)) return;
          try {
            const answer = await net.forward(
              peerId,
              { shape: [rs.length, this.task.inputSize], data: gatherRows(xs, this.task.inputSize, rs) },
              {
                requestId: newRequestId(),
                timeoutMs: this.stepOptions.forwardTimeoutMs,
                signal: controller.signal,
                wireDtype: this.stepOptions.wireDtype,
              },
            );
            if (!invalidTensorReason(answer, [rs.length, this.d])) out.set(s, answer.data);
          } catch {
            // absent, refused, late: the stand-in answers in its place
          }
        }),
      );
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    return out;
  }

  /** Every weight (encoder, head, gate, stand-ins), read back in one asynchronous transfer. */
  async exportWeights(): Promise<NamedWeights> {
    const names: string[] = [
      ...this.encoder.variableNames(),
      ...this.head.variableNames(),
      'gate/w_gate',
      'gate/w_noise',
    ];
    const vars = [...this.encoder.variables(), ...this.head.variables(), ...this.gate.variables()];
    // Both reads are packed now, synchronously: a later step cannot change what is exported.
    const [own, standIns] = await Promise.all([exportVariables(names, vars), this.standIns.exportWeights()]);
    return { ...own, ...standIns };
  }

  /**
   * Why `w` does not fit this model (a missing encoder/gate/head weight, a
   * shape that differs, a stand-in of another shape or for a slot that does
   * not exist), or null when every weight fits.
   */
  weightsMismatch(w: NamedWeights): string | null {
    const expected: Record<string, number[]> = {};
    for (const m of [this.encoder, this.head]) {
      const names = m.variableNames();
      m.variables().forEach((v, i) => {
        expected[names[i]!] = v.shape;
      });
    }
    expected['gate/w_gate'] = this.gate.wGate.shape;
    expected['gate/w_noise'] = this.gate.wNoise.shape;
    const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((x, k) => x === b[k]);
    for (const [name, shape] of Object.entries(expected)) {
      const got = w[name];
      if (!got) return `missing ${name}`;
      if (!sameShape(got.shape, shape) || got.data.length !== shape.reduce((a, b) => a * b, 1))
        return `${name} is [${got.shape.join(', ')}], the model needs [${shape.join(', ')}]`;
    }
    const inputSize = this.task.inputSize;
    const hidden = this.model.standInHidden;
    for (const [name, got] of Object.entries(w)) {
      if (name in expected) continue;
      const m = /^standin(\d+)\/(w0|b0|w1|b1|steps)$/.exec(name);
      if (!m) return `unknown weight ${name}`;
      const slot = Number(m[1]);
      if (slot < 1 || slot >= this.slots.length) return `stand-in for slot ${slot} of ${this.slots.length}`;
      const shape =
        m[2] === 'w0'
          ? [inputSize, hidden]
          : m[2] === 'b0'
            ? [hidden]
            : m[2] === 'w1'
              ? [hidden, this.d]
              : m[2] === 'b1'
                ? [this.d]
                : [1];
      if (!sameShape(got.shape, shape) || got.data.length !== shape.reduce((a, b) => a * b, 1))
        return `${name} is [${got.shape.join(', ')}], the model needs [${shape.join(', ')}]`;
    }
    return null;
  }

  importWeights(w: NamedWeights): void {
    this.encoder.importWeights(w);
    this.head.importWeights(w);
    this.gate.importWeights(w);
    this.standIns.importWeights(w);
  }

  /** Restores the slot table (so restored stand-ins keep meaning the same peers). */
  restoreSlots(slots: (string | null)[]): void {
    for (let s = 1; s < this.slots.length; s++) this.slots[s] = slots[s] ?? null;
  }

  dispose(): void {
    this.encoder.dispose();
    this.head.dispose();
    this.gate.dispose();
    this.standIns.dispose();
    this.optimizer.dispose();
  }
}
