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
 *  6. the scorer records gate importance and the removal cost of eq 3.
 *
 * Gradients w.r.t. the remote answers come out of the same tape as the
 * weights' gradients: the answers are inputs of the loss like any variable.
 * Around this file (model, slot table, step, tape): trainer-options.ts,
 * trainer-parts.ts (the model), expert-calls.ts (steps 3, 5), combine.ts
 * (eq 10), composition.ts (eq 9),
 * g-student.ts (eq 11) and student-replay.ts, distillation-queries.ts (the
 * student also learns on callers' inputs), young-slots.ts, evaluation.ts, persistence.ts.
 */
import type { ExpertNetwork } from '@peerbench/mesh';
import * as tf from '@tensorflow/tfjs';
import { CallerInputs } from './caller-inputs.js';
import { type CombineMode, combineExperts } from './combine.js';
import type { Composition, ServedFunction } from './composition.js';
import { DistillationQueries } from './distillation-queries.js';
import { type EvalResult, type EvaluateLiveOptions, evaluateLive, evaluateOffline } from './evaluation.js';
import {
  type AnswerStats,
  ExpertCalls,
  type ExpertSource,
  expertContributions,
  type PendingCall,
  pendingCalls,
} from './expert-calls.js';
import type { GStudent } from './g-student.js';
import { availableTensor, importanceCv2, type NoisyTopKGate, type Routing } from './gate.js';
import { type Mlp, type NamedWeights, uniqueScope } from './model.js';
import { exportTrainerWeights, importTrainerWeights, trainerWeightsMismatch } from './persistence.js';
import { DEFAULT_SCORER_OPTIONS, removalCost, Scorer } from './scorer.js';
import { assignSlots, resetSlotState } from './slot-handover.js';
import type { Batch, Task } from './task.js';
import {
  DEFAULT_MODEL_OPTIONS,
  DEFAULT_STEP_OPTIONS,
  type ModelOptions,
  type StepOptions,
  type StepResult,
} from './trainer-options.js';
import { buildComposition, buildTrainerParts } from './trainer-parts.js';
import { YoungSlots } from './young-slots.js';

export class Trainer {
  readonly encoder: Mlp;
  readonly head: Mlp;
  readonly gate: NoisyTopKGate;
  /** The distilled student of G (eq 11, g-student.ts): stands in for missing slots, feeds depth-1 answers. */
  readonly standIns: GStudent;
  /** Eq 9 at depth 1 (composition.ts); null when this peer answers at depth 0. */
  readonly composition: Composition | null;
  readonly scorer: Scorer;
  /** slot → peerId; slot 0 is self. */
  readonly slots: (string | null)[];
  stepCount = 0;
  /** Issue 14: a slot whose peer is no longer linked is freed at the next step (else its stand-in answers). */
  followLinks = false;
  /** The forwards and backwards to remote experts over the slot table, and their counters. */
  readonly calls: ExpertCalls;
  /** Callers' training inputs (the ExpertServer fills it) and the distillation queries drawn from them (issue 16). */
  readonly callerInputs: CallerInputs;
  readonly distillation: DistillationQueries;
  /** Slots that just got a holder, routed a share of the training rows (young-slots.ts). */
  readonly young: YoungSlots;
  private readonly optimizer: tf.Optimizer;
  private readonly d: number;
  /** Slots handed over so far (seeds each fresh head block differently). */
  private handovers = 0;

  constructor(
    readonly task: Task,
    readonly selfId: string,
    network: ExpertNetwork | null,
    readonly model: ModelOptions = DEFAULT_MODEL_OPTIONS,
    public stepOptions: StepOptions = DEFAULT_STEP_OPTIONS,
  ) {
    const scope = uniqueScope();
    this.d = model.representationSize;
    const parts = buildTrainerParts(task, model, this.combineMode(), scope);
    this.encoder = parts.encoder;
    this.head = parts.head;
    this.gate = parts.gate;
    this.standIns = parts.student;
    this.optimizer = parts.optimizer;
    this.scorer = new Scorer({ slots: model.maxExperts, ...DEFAULT_SCORER_OPTIONS, ...model.scoring });
    this.slots = new Array<string | null>(model.maxExperts).fill(null);
    this.slots[0] = selfId;
    this.composition = buildComposition(parts, model, this.slots, scope);
    this.calls = new ExpertCalls(network, this.slots, task.inputSize, this.d, () => this.stepOptions);
    this.callerInputs = new CallerInputs(task.inputSize);
    this.distillation = new DistillationQueries(this.callerInputs, () => this.model.callerDistillRows ?? 0);
    const youngSeed = model.seed === undefined ? undefined : model.seed + 4099;
    this.young = new YoungSlots(model.maxExperts, model.youngSlots, youngSeed);
  }

  setNetwork(network: ExpertNetwork | null): void {
    this.calls.setNetwork(network);
  }

  /** Counters of remote answers since start (the caller's defences). */
  get answers(): AnswerStats {
    return this.calls.answers;
  }

  /** 'concat' unless the options say 'sum' (options built before `combine` existed mean the paper's form). */
  combineMode(): CombineMode {
    return this.model.combine === 'sum' ? 'sum' : 'concat';
  }

  /** G(x) of eq 10 over this trainer's slots (see combineExperts). */
  combine(B: number, g: tf.Tensor2D, contributions: ReadonlyArray<tf.Tensor2D | null>): tf.Tensor2D {
    return combineExperts(this.combineMode(), this.slots.length, this.d, B, g, contributions);
  }

  /**
   * f_i(x), the representation this peer serves and puts in slot 0 of its
   * own G(x), and the gate's context h(x) (eq 9; the same tensor at depth 0).
   */
  represent(x: tf.Tensor2D): { h: tf.Tensor2D; f: tf.Tensor2D } {
    if (this.composition) return this.composition.represent(x);
    const h = this.encoder.apply(x);
    return { h, f: h };
  }

  /** What the expert server answers with and trains from callers' gradients (composition.ts). */
  served(): ServedFunction {
    return this.composition?.served() ?? this.encoder;
  }

  private trainableVariables(): tf.Variable[] {
    const own = [this.encoder, this.composition, this.gate, this.head];
    return own.flatMap((part) => part?.variables() ?? []);
  }

  /**
   * Forgets what slot `slot` learned about its holder and gives the next one a fresh start
   * (slot-handover.ts): gate column at the mean of the other remote slots', head block redrawn.
   */
  resetSlot(slot: number): void {
    const { gate, head, standIns, scorer, optimizer, d } = this;
    const peers = this.slots.flatMap((id, s) => (s > 0 && s !== slot && id !== null ? [s] : []));
    const seed = (this.model.seed ?? 0) + 1000 + 7919 * ++this.handovers + slot;
    const state = { gate, head, standIns, scorer, optimizer, d, combine: this.combineMode() };
    resetSlotState(state, slot, { peers, seed });
    this.young.released(slot);
  }

  /** Slots the gate may choose: self, reachable peers, and absent peers whose stand-in is trained. */
  availability(online: Set<string>): boolean[] {
    return this.slots.map((peerId, s) => {
      if (s === 0) return true;
      if (peerId === null) return false;
      return online.has(peerId) || this.standIns.ready(s);
    });
  }

  /** One training step; never throws because a peer misbehaved or left. */
  async step(): Promise<StepResult> {
    const t0 = performance.now();
    const batch = this.task.nextBatch(this.stepOptions.batchSize);
    const every = (n: number) => this.stepCount % Math.max(1, n) === 0; // fit the student / query neighbours
    const distill = every(this.model.distillEverySteps);
    const query = every(this.model.distillQueryEverySteps ?? this.model.distillEverySteps);
    const B = batch.size;
    const online = this.calls.online();
    // Newly seen peers take free slots; with followLinks, unlinked holders leave theirs (slot-handover.ts).
    assignSlots(this.slots, [...online], this.followLinks, {
      release: (slot) => this.resetSlot(slot),
      take: (slot) => {
        this.standIns.drop(slot);
        this.scorer.resetSlot(slot);
        this.young.taken(slot, this.stepCount);
      },
    });
    const available = this.availability(online);

    // Routing is decided outside the tape so the RPCs can go out now.
    const hRoute = tf.tidy(() => this.encoder.apply(tf.tensor2d(batch.x, [B, this.task.inputSize])));
    let routing: Routing;
    try {
      routing = await this.gate.route(hRoute, available, true, this.young.exploration(this.stepCount));
    } finally {
      hRoute.dispose();
    }

    const pending = pendingCalls(this.slots, routing, online);
    let result: Awaited<ReturnType<Trainer['learn']>>;
    try {
      await this.calls.collect(pending, batch.x);
      result = await this.learn(batch, routing, available, pending, distill);
    } finally {
      routing.noise?.dispose();
    }
    this.calls.sendBackward(pending, result.answerGrads);
    if (query) await this.distillation.run({ calls: this.calls, slots: this.slots, student: this.standIns });
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
    pending: PendingCall[],
    distill: boolean,
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
    let distilled = false;

    const packed = tf.tidy(() => {
      const x = tf.tensor2d(batch.x, [B, this.task.inputSize]);
      const y = tf.tensor2d(batch.y, [B, this.task.numClasses]);
      const avail = availableTensor(available);
      // Expert inputs of the loss, only for slots that contribute this step
      // (the others have g = 0 or nothing to give): answers or stand-ins.
      const contributed = expertContributions({
        x,
        xData: batch.x,
        d,
        slots: N,
        pending,
        routing,
        student: this.standIns,
        distill,
        sources,
        answers: this.calls.answers,
      });
      const { active, experts, studentLoss } = contributed;
      distilled = studentLoss !== null;
      const vars = this.trainableVariables();
      // What the loss function computes on the way, kept past the tape to be read.
      const seen: { gates?: tf.Tensor2D; ce?: tf.Scalar; balance?: tf.Scalar; selfF?: tf.Tensor2D } = {};
      const lossFn = () => {
        const { h, f } = this.represent(x);
        const g = this.gate.gates(h, routing, avail);
        const contributions: (tf.Tensor2D | null)[] = new Array<tf.Tensor2D | null>(N).fill(null);
        contributions[0] = tf.add(f, experts[0]!) as tf.Tensor2D;
        for (let a = 1; a < active.length; a++) contributions[active[a]!] = experts[a]!;
        const G = this.combine(B, g, contributions);
        const logits = this.head.apply(G);
        const c = tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
        const b = importanceCv2(g, avail);
        // tf.keep: the tape's own scope would free them; this tidy frees them.
        seen.gates = tf.keep(g);
        seen.ce = tf.keep(c);
        seen.balance = tf.keep(b);
        seen.selfF = tf.keep(f);
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
        if (studentLoss) reads.push(tf.reshape(studentLoss, [1]));
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
    if (distilled) this.standIns.recordLoss(take(1)[0]!);
    const answerGrads = new Map<number, Float32Array>();
    for (const { slot, size } of gradSlots) answerGrads.set(slot, take(size));
    this.scorer.observe(importance, removal);
    return { loss: loss!, balance: balance!, sources, answerGrads };
  }

  /** Every backward sent so far answered or failed (§1.6: the step never waits; a lockstep swarm does). */
  settleBackwards(): Promise<void> {
    return this.calls.settleBackwards();
  }

  /** Loss and accuracy on the task's held-out set (or `data`), offline: the student for the remote experts (evaluation.ts). */
  evaluate(data?: Batch): Promise<EvalResult> {
    return evaluateOffline(this, data);
  }

  /** Loss and accuracy with the live network, optionally one peer ablated (evaluation.ts). Read-only. */
  evaluateLive(opts: EvaluateLiveOptions = {}): Promise<EvalResult> {
    return evaluateLive(this, opts);
  }

  /** Every weight (encoder, head, gate, student, P at depth 1), read back in one asynchronous transfer. */
  exportWeights(): Promise<NamedWeights> {
    return exportTrainerWeights(this);
  }

  /** Why `w` does not fit this model, or null when every weight fits (persistence.ts). */
  weightsMismatch(w: NamedWeights): string | null {
    return trainerWeightsMismatch(this, w);
  }

  importWeights(w: NamedWeights): void {
    importTrainerWeights(this, w);
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
    this.composition?.dispose();
    this.optimizer.dispose();
  }
}
