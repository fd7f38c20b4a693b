/**
 * Runs N participants in lockstep in one process: every step each running
 * trainer takes one training step (querying the others through the network),
 * every `blockSteps` steps they submit their weight rows and a block is
 * produced, every `evalEvery` steps each is evaluated on the balanced
 * held-out set (B = Σ L_i, eq 1). Optional: adversaries, churn, and the
 * ablation measurement of the ideal rank (eq 2) at the end.
 */
import { projectToSimplex, spearman } from '@peerbench/mechanism';
import type { SwarmOptions } from './args.js';
import { type BlockState, MechanismChain, type SwarmChain } from './chain.js';
import { type Dataset, dominantDigits, heldOutSet, trainingShards } from './data.js';
import { MemoryNetwork } from './network.js';
import { Participant, type ParticipantKind } from './participant.js';
import type {
  AblationRecord,
  BlockRecord,
  ParticipantRecord,
  StepRecord,
  SwarmRecord,
  SwarmSummary,
} from './record.js';
import { RECORD_VERSION } from './record.js';

export interface SwarmHooks {
  progress?: (line: string) => void;
}

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

export class Swarm {
  readonly participants: Participant[] = [];
  readonly records: ParticipantRecord[] = [];
  readonly network = new MemoryNetwork();
  readonly chain: SwarmChain;
  private readonly heldOut: Dataset;
  private readonly stopped = new Set<number>();
  private readonly steps: StepRecord[] = [];
  private readonly blocks: BlockRecord[] = [];
  private ablation: AblationRecord | null = null;
  private interrupted = false;
  private stepsDone = 0;
  private trainMs = 0;
  private trainNetworkMs = 0;
  private trainTransportMs = 0;
  private wallMs = 0;

  constructor(
    readonly opts: SwarmOptions,
    private readonly hooks: SwarmHooks = {},
  ) {
    const kinds: ParticipantKind[] = Array.from({ length: opts.peers }, () => 'honest');
    for (const a of opts.adversaries) for (let c = 0; c < a.count; c++) kinds.push(a.kind);
    const n = kinds.length;
    const sorted = [...opts.shardSizes].sort((a, b) => a - b);
    const medianShard = sorted[Math.floor(sorted.length / 2)]!;
    const trainerSizes = kinds.map((k, i) =>
      k === 'noise' ? 0 : k === 'copy' ? medianShard : opts.shardSizes[i]!,
    );
    const shards = trainingShards(
      trainerSizes.map((s) => Math.max(s, 1)),
      opts.skew,
      opts.seed,
    );
    this.heldOut = heldOutSet(opts.evalSize);
    this.chain = new MechanismChain({ n, tau: opts.tau, epsilon: opts.epsilon });
    kinds.forEach((kind, index) => {
      const p = new Participant({
        index,
        n,
        kind,
        shard: kind === 'noise' ? null : shards[index]!,
        isolated: opts.mode === 'isolated',
        k: opts.k,
        batch: opts.batch,
        learningRate: opts.learningRate,
        temperature: opts.temperature,
        combine: opts.combine,
        seed: opts.seed,
      });
      p.setChainView(this.chain.latest());
      this.participants.push(p);
      this.network.register(index, p);
      this.records.push({
        index,
        kind,
        shardSize: trainerSizes[index]!,
        dominantDigits: kind === 'noise' ? null : dominantDigits(index),
        stoppedAtStep: null,
      });
    });
  }

  private say(line: string): void {
    if (!this.opts.quiet) this.hooks.progress?.(line);
  }

  private running(p: Participant): boolean {
    return !this.stopped.has(p.index);
  }

  private trainers(): Participant[] {
    return this.participants.filter((p) => p.kind !== 'noise' && this.running(p));
  }

  /** Runs to the end or until `signal` aborts; always returns what was measured. */
  async run(signal?: AbortSignal): Promise<SwarmRecord> {
    const t0 = performance.now();
    const { opts } = this;
    await this.evaluateAll(0, null);
    for (let step = 1; step <= opts.steps; step++) {
      // The in-memory network resolves at once, so without this the loop would
      // never yield and SIGINT (delivered as an event) could not stop it.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal?.aborted) {
        this.interrupted = true;
        break;
      }
      if (opts.churn && step === opts.churn.atStep) this.applyChurn(step);
      const ts = performance.now();
      const tNet = { ...this.network.timing };
      const trainLoss: (number | null)[] = this.participants.map(() => null);
      let standIns = 0;
      let failedSteps = 0;
      for (const p of this.trainers()) {
        try {
          const r = await p.trainStep(this.network);
          trainLoss[p.index] = finiteOrNull(r.loss);
          standIns += r.standIns;
          this.trainNetworkMs += r.networkMs;
        } catch (err) {
          failedSteps++;
          this.say(`step ${step}: peer ${p.index} failed: ${(err as Error).message}`);
        }
      }
      const ms = performance.now() - ts;
      this.trainMs += ms;
      this.trainTransportMs +=
        this.network.timing.callMs - tNet.callMs - (this.network.timing.handlerMs - tNet.handlerMs);
      this.stepsDone = step;
      const rec: StepRecord = { step, trainLoss, standIns, failedSteps, ms };
      this.steps.push(rec);
      if (step % opts.blockSteps === 0) this.produceBlock(step);
      if (step % opts.evalEvery === 0 || step === opts.steps) await this.evaluateAll(step, rec);
    }
    if (opts.ablate && !this.interrupted) await this.runAblation();
    this.wallMs = performance.now() - t0;
    return this.toRecord();
  }

  private applyChurn(step: number): void {
    const honest = this.participants.filter((p) => p.kind === 'honest' && this.running(p));
    const victims = honest.slice(-(this.opts.churn?.count ?? 0));
    for (const v of victims) {
      this.stopped.add(v.index);
      this.network.unregister(v.index);
      this.records[v.index]!.stoppedAtStep = step;
    }
    this.say(`step ${step}: churn stopped peers ${victims.map((v) => v.index).join(', ')}`);
  }

  /** The weight copier's row: the stake-weighted mean of everyone else's rows on chain. */
  private consensusRow(copier: number, state: BlockState): Float64Array {
    const { n, W, S } = state;
    const row = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (i === copier) continue;
      total += S[i]!;
      for (let j = 0; j < n; j++) row[j]! += S[i]! * W[i * n + j]!;
    }
    for (let j = 0; j < n; j++) row[j] = total > 0 ? row[j]! / total : 1 / n;
    return projectToSimplex(row);
  }

  private produceBlock(step: number): void {
    const latest = this.chain.latest();
    for (const p of this.participants) {
      // Noise peers run no scorer, so their row stays at W0; stopped peers are silent.
      if (!this.running(p) || p.kind === 'noise') continue;
      this.chain.submitWeights(
        p.index,
        p.kind === 'copy' ? this.consensusRow(p.index, latest) : p.scoreRow(),
      );
    }
    const b = this.chain.produceBlock();
    for (const p of this.participants) p.setChainView(b);
    const n = b.n;
    this.blocks.push({
      height: b.height,
      step,
      S: Array.from(b.S),
      R: Array.from(b.R),
      W: Array.from({ length: n }, (_, i) => Array.from(b.W.subarray(i * n, (i + 1) * n))),
      tau: b.tau,
      gateWeight: this.participants.map((p) => {
        const s = p.importanceEma.reduce((a, v) => a + v, 0);
        return Array.from(p.importanceEma, (v) => (s > 0 ? v / s : 0));
      }),
    });
  }

  private async evaluateAll(step: number, rec: StepRecord | null): Promise<void> {
    const loss: (number | null)[] = this.participants.map(() => null);
    const acc: (number | null)[] = this.participants.map(() => null);
    let B = 0;
    for (const p of this.trainers()) {
      const r = await p.evaluate(this.network, this.heldOut);
      loss[p.index] = finiteOrNull(r.loss);
      acc[p.index] = finiteOrNull(r.accuracy);
      B += r.loss;
    }
    const target: StepRecord = rec ?? {
      step,
      trainLoss: loss.map(() => null),
      standIns: 0,
      failedSteps: 0,
      ms: 0,
    };
    target.heldOutLoss = loss;
    target.heldOutAccuracy = acc;
    target.B = finiteOrNull(B) ?? undefined;
    if (!rec) this.steps.push(target);
    const meanAcc = acc.filter((a): a is number => a !== null);
    const sps = this.trainMs > 0 ? (this.stepsDone / this.trainMs) * 1000 : 0;
    this.say(
      `step ${step}/${this.opts.steps} B=${B.toFixed(3)} meanAcc=${(meanAcc.reduce((a, v) => a + v, 0) / Math.max(1, meanAcc.length)).toFixed(3)} blocks=${this.blocks.length} ${sps.toFixed(2)} steps/s`,
    );
  }

  private async runAblation(): Promise<void> {
    this.say('ablation: zeroing each peer in every G(x)…');
    const n = this.participants.length;
    const evaluators = this.trainers();
    const baseLoss: (number | null)[] = this.participants.map(() => null);
    for (const p of evaluators) baseLoss[p.index] = (await p.evaluate(this.network, this.heldOut)).loss;
    const delta: (number | null)[][] = this.participants.map(() => this.participants.map(() => null));
    for (let j = 0; j < n; j++) {
      if (this.stopped.has(j)) continue;
      for (const p of evaluators) {
        const l = (await p.evaluate(this.network, this.heldOut, j)).loss;
        delta[p.index]![j] = finiteOrNull(l - baseLoss[p.index]!);
      }
    }
    const ideal = new Array<number>(n).fill(0);
    const idealOthers = new Array<number>(n).fill(0);
    for (let j = 0; j < n; j++)
      for (const p of evaluators) {
        const d = delta[p.index]![j] ?? 0;
        ideal[j]! += d / n;
        if (p.index !== j) idealOthers[j]! += d / n;
      }
    const R = Array.from(this.chain.latest().R);
    const alive = this.participants.filter((p) => this.running(p)).map((p) => p.index);
    const honest = alive.filter((i) => this.participants[i]!.kind === 'honest');
    const corr = (a: number[], b: number[], idx: number[]): number | null =>
      finiteOrNull(
        spearman(
          idx.map((i) => a[i]!),
          idx.map((i) => b[i]!),
        ),
      );
    this.ablation = {
      baseLoss: baseLoss.map((v) => (v === null ? null : finiteOrNull(v))),
      delta,
      ideal,
      idealOthers,
      ledgerR: R,
      spearman: corr(R, ideal, alive),
      spearmanOthers: corr(R, idealOthers, alive),
      spearmanHonest: corr(R, ideal, honest),
    };
    this.say(
      `ablation: Spearman(ledger R, ideal) = ${this.ablation.spearman?.toFixed(3) ?? 'undefined'} (honest only ${this.ablation.spearmanHonest?.toFixed(3) ?? 'undefined'})`,
    );
  }

  private summary(): SwarmSummary {
    const withB = this.steps.filter((s) => s.B !== undefined);
    const firstB = withB[0]?.B ?? null;
    const lastB = withB[withB.length - 1]?.B ?? null;
    const nonFinite = this.steps.reduce(
      (c, s) => c + s.trainLoss.filter((l, i) => l === null && this.trains(i, s.step)).length,
      0,
    );
    const s: SwarmSummary = {
      stepsDone: this.stepsDone,
      blocks: this.blocks.length,
      interrupted: this.interrupted,
      wallSeconds: this.wallMs / 1000,
      stepsPerSecond: this.trainMs > 0 ? (this.stepsDone / this.trainMs) * 1000 : 0,
      networkShare: this.trainMs > 0 ? this.trainNetworkMs / this.trainMs : 0,
      transportShare: this.trainMs > 0 ? this.trainTransportMs / this.trainMs : 0,
      firstB,
      lastB,
      bDrop: firstB !== null && lastB !== null && firstB > 0 ? (firstB - lastB) / firstB : null,
      standInAnswers: this.steps.reduce((c, st) => c + st.standIns, 0),
      failedSteps: this.steps.reduce((c, st) => c + st.failedSteps, 0),
      nonFiniteLosses: nonFinite,
    };
    const idx = (k: ParticipantKind) => this.participants.filter((p) => p.kind === k).map((p) => p.index);
    const honest = idx('honest').filter((i) => !this.stopped.has(i));
    const noise = idx('noise');
    if (noise.length > 0 && this.blocks.length > 0) {
      const firstFrom = (below: (b: BlockRecord) => boolean): number | null => {
        let from: number | null = null;
        for (const b of this.blocks) {
          if (below(b)) from ??= b.height;
          else from = null;
        }
        return from;
      };
      const last = this.blocks[this.blocks.length - 1]!;
      const colBelow = (M: number[][]) =>
        honest.every((i) => {
          const others = honest.filter((j) => j !== i).map((j) => M[i]![j]!);
          return others.length === 0 || Math.max(...noise.map((j) => M[i]![j]!)) < Math.min(...others);
        });
      s.noise = {
        peers: noise,
        rankBelowHonestFromBlock: firstFrom(
          (b) => Math.max(...noise.map((j) => b.R[j]!)) < Math.min(...honest.map((j) => b.R[j]!)),
        ),
        weightBelowHonestFromBlock: firstFrom((b) => colBelow(b.W)),
        gateBelowHonestFromBlock: firstFrom((b) => colBelow(b.gateWeight)),
        finalRankNoise: noise.map((j) => last.R[j]!),
        finalMinRankHonest: Math.min(...honest.map((j) => last.R[j]!)),
      };
    }
    const copy = idx('copy');
    if (copy.length > 0 && this.blocks.length > 0) {
      const last = this.blocks[this.blocks.length - 1]!;
      const gain = (j: number) => last.S[j]! - 1;
      const honestMean = honest.reduce((a, j) => a + gain(j), 0) / Math.max(1, honest.length);
      s.copy = {
        peers: copy,
        stakeGain: copy.map(gain),
        honestMeanStakeGain: honestMean,
        ratio:
          honestMean !== 0 ? copy.reduce((a, j) => a + gain(j), 0) / copy.length / honestMean : Number.NaN,
      };
      if (!Number.isFinite(s.copy.ratio)) s.copy.ratio = 0;
    }
    const churn = this.opts.churn;
    if (churn) {
      const survivors = this.participants
        .filter((p) => p.kind !== 'noise' && !this.stopped.has(p.index))
        .map((p) => p.index);
      const meanAt = (st: StepRecord | undefined): number | null => {
        if (!st?.heldOutLoss) return null;
        const v = survivors
          .map((i) => st.heldOutLoss![i])
          .filter((x): x is number => x !== null && x !== undefined);
        return v.length ? v.reduce((a, x) => a + x, 0) / v.length : null;
      };
      const before = withB.filter((st) => st.step < churn.atStep).pop();
      const after = withB.find((st) => st.step >= churn.atStep);
      const lb = meanAt(before);
      const la = meanAt(after);
      s.churn = {
        atStep: churn.atStep,
        stopped: [...this.stopped],
        survivorLossBefore: lb,
        survivorLossAfter: la,
        bump: lb !== null && la !== null ? la - lb : null,
        stepsWithNonFiniteLoss: this.steps.filter(
          (st) => st.step >= churn.atStep && survivors.some((i) => st.trainLoss[i] === null),
        ).length,
      };
    }
    return s;
  }

  /** Whether participant i was expected to report a training loss at `step`. */
  private trains(i: number, step: number): boolean {
    const r = this.records[i]!;
    if (r.kind === 'noise' || step === 0) return false;
    return r.stoppedAtStep === null || step < r.stoppedAtStep;
  }

  toRecord(): SwarmRecord {
    const { out: _out, ...options } = this.opts;
    return {
      version: RECORD_VERSION,
      createdAt: new Date().toISOString(),
      options,
      transport: 'memory',
      chain: 'mechanism',
      participants: this.records,
      steps: this.steps,
      blocks: this.blocks,
      ablation: this.ablation,
      summary: this.summary(),
    };
  }

  dispose(): void {
    for (const p of this.participants) p.dispose();
  }
}
