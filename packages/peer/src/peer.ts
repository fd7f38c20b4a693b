/**
 * A participant of the network (§1.6): it trains its own model on its own
 * data through the trainer, serves its encoder to others as an expert,
 * follows the chain, and once per block submits its bounded weight row. Its
 * state is published as immutable PeerSnapshots (subscribe/getSnapshot), the
 * one thing the web app and the swarm CLI read.
 *
 * Everything outside learning is plugged in: the network (ExpertNetwork),
 * the ledger (ChainClient), persistence (PeerStorage). Each may be absent: a
 * peer with no network trains alone, one with no chain serves unmasked.
 */

import { projectToSimplex } from '@peerbench/mechanism';
import type { ExpertNetwork } from '@peerbench/mesh';
import { generateIdentity, type Identity, identityFromSecretKey } from '@peerbench/protocol';
import * as tf from '@tensorflow/tfjs';
import { type SelectBackendOptions, selectBackend } from './backend.js';
import { selectBackendByTrial, trainerTrialWorkload } from './backend-trial.js';
import type { ChainClient, ChainState } from './chain.js';
import { denseRow } from './chain.js';
import { MaskTable } from './competitive-mask.js';
import { DEFAULT_EXPERT_SERVER_OPTIONS, ExpertServer, type ExpertServerOptions } from './expert-server.js';
import { decodeWeights, encodeWeights, type NamedWeights } from './model.js';
import { measureRemovalCosts, type ScoreRouting, ValidationCycle } from './removal-cost.js';
import { nextWeightRow, sparseRow } from './scorer.js';
import {
  type BlockPoint,
  initialSnapshot,
  type PeerError,
  type PeerRow,
  type PeerSnapshot,
  type PeerStats,
  type StepPoint,
} from './state.js';
import { type PeerStorage, STORAGE_KEYS } from './storage.js';
import type { Task } from './task.js';
import {
  DEFAULT_MODEL_OPTIONS,
  DEFAULT_STEP_OPTIONS,
  type EvalResult,
  type EvaluateLiveOptions,
  type ModelOptions,
  type StepOptions,
  type StepResult,
  Trainer,
} from './trainer.js';

/** A peer without a uid sends its registration again after this many blocks. */
const REGISTER_RETRY_EVERY_BLOCKS = 3;

type Factory<T> = T | ((identity: Identity) => T | Promise<T>);

/** What `PeerOptions.targetRow` is given once per block. */
export interface TargetRowContext {
  /** The latest chain state (the block that triggered the submission). */
  state: ChainState;
  /** This peer's uid. */
  uid: number;
  /** The scorer's honest target row over all uids (on the simplex). */
  scored: Float64Array;
}

export interface PeerOptions {
  /** The private dataset and loss (or a factory, e.g. `() => MnistTask.create({...})`). */
  task: Task | (() => Promise<Task>);
  /** Identity to use; else the one in storage; else a new one (saved to storage). */
  identity?: Identity;
  /** Where identity, weights and history persist (IdbStorage, FileStorage, MemoryStorage). None: nothing persists. */
  storage?: PeerStorage | null;
  /** How to reach other peers (or a factory given the identity, for transports that sign in with it). None: train alone. */
  network?: Factory<ExpertNetwork> | null;
  /** The ledger (or a factory given the identity). None: no masks, no weight txs. */
  chain?: Factory<ChainClient> | null;
  /** Room name shown in the snapshot. Default 'default'. */
  room?: string;
  /** tfjs backend selection (force, wasm paths); false leaves tfjs as it is. Default {}. */
  backend?: SelectBackendOptions | false;
  /**
   * Choose the backend by a short trial of this peer's own training step on
   * each one (backend-trial.ts) instead of the fixed order. Ignored when the
   * backend is forced or `backend` is false. Default false (the app and the
   * swarm CLI turn it on).
   */
  backendTrial?: boolean | { timedSteps?: number; budgetMs?: number };
  /** Model shape and learning rates (see ModelOptions). */
  model?: Partial<ModelOptions>;
  /** Batch size, k_min, grace, timeouts, wire dtype (see StepOptions). */
  step?: Partial<StepOptions>;
  /** Expert server: accept remote gradients, their clip norm and learning rate, saved-input bounds. */
  server?: Partial<ExpertServerOptions>;
  /** T of eq (8), the temperature of the competitive mask, relative to the mean stake (see MaskTable). Default 1. */
  maskTemperature?: number;
  /** Held-out evaluation every this many steps (0 = never). Default 25. */
  evalEverySteps?: number;
  /** Save weights and history every this many steps (0 = only on stop). Default 100. */
  saveEverySteps?: number;
  /** Pause between steps, in ms (yields to the event loop and to serving). Default 0. */
  stepIntervalMs?: number;
  /** Points kept in lossHistory / blockHistory. Default 2000. */
  historyLimit?: number;
  /** Latency probe period per connected peer, in ms (0 = off). Default 5000. */
  pingEveryMs?: number;
  /** Submit a set-weights tx once per block. Default true. */
  submitWeights?: boolean;
  /**
   * The row to move towards each block instead of the scorer's `scored` row
   * (length = number of uids; projected onto the simplex; the step is still
   * bounded by ε). For adversaries (a weight copier) and experiments.
   */
  targetRow?: (ctx: TargetRowContext) => Float64Array;
  /**
   * Measure the removal costs on the validation slice of D_i every this many
   * steps (removal-cost.ts; 0 = never). Default 2. Only with the scorer's
   * 'validation' source and a task that has a validation slice.
   */
  scoreEverySteps?: number;
  /** Validation examples per scoring pass. Default 32. */
  scoreRows?: number;
  /**
   * How a scoring pass routes its draw (removal-cost.ts ScoreRouting). Default 'noisy': measured in
   * apps/swarm (8 peers, known-quality design, 3 seeds) Spearman(R, known order) 0.91 vs 0.74 with
   * 'clean', Spearman(R, ablation ideal) 0.54 vs 0.43 (docs/results/ranking-fidelity.md).
   */
  scoreRouting?: ScoreRouting;
  /** Run the training loop after start(); false = the caller drives `step()`. Default true. */
  autoRun?: boolean;
}

interface PersistedMeta {
  version: 1;
  step: number;
  slots: (string | null)[];
  lossHistory: StepPoint[];
  blockHistory: BlockPoint[];
}

function errorOf(code: string, err: unknown): PeerError {
  return { code, message: err instanceof Error ? err.message : String(err) };
}

export class Peer {
  readonly identity: Identity;
  private readonly opts: PeerOptions;
  private snapshot: PeerSnapshot;
  private readonly listeners = new Set<(s: PeerSnapshot) => void>();
  private trainer: Trainer | null = null;
  private server: ExpertServer | null = null;
  private network: ExpertNetwork | null = null;
  private chain: ChainClient | null = null;
  private masks: MaskTable | null = null;
  private readonly cleanups: Array<() => void> = [];
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private readonly latency = new Map<string, number>();
  /** Height from which a peer without a uid sends its registration again. */
  private registerRetryAtHeight = 0;
  private submitting = false;
  private validation: ValidationCycle | null = null;
  private heldMask: number | null = null;
  /** Serialises public `submitRow` calls with the per-block submission. */
  private submission: Promise<void> = Promise.resolve();
  private stats: PeerStats = {
    forwardRequested: 0,
    answersAccepted: 0,
    answersInvalid: 0,
    answersLate: 0,
    answersFailed: 0,
    standInUsed: 0,
    forwardsServed: 0,
    remoteGradientsApplied: 0,
    remoteGradientsRefused: 0,
    weightTxsSubmitted: 0,
    weightTxsFailed: 0,
    forwardBytesPerStep: 0,
    lastStepMs: null,
  };

  private constructor(identity: Identity, opts: PeerOptions) {
    this.identity = identity;
    this.opts = opts;
    this.snapshot = initialSnapshot(identity.peerId, opts.room ?? 'default');
  }

  /** Resolves the identity (given, stored, or new) and builds a stopped peer. */
  static async create(opts: PeerOptions): Promise<Peer> {
    let identity = opts.identity;
    if (!identity && opts.storage) {
      const stored = await opts.storage.get(STORAGE_KEYS.identity);
      if (stored) identity = await identityFromSecretKey(stored);
    }
    if (!identity) {
      identity = await generateIdentity();
      await opts.storage?.set(STORAGE_KEYS.identity, identity.secretKey);
    }
    return new Peer(identity, opts);
  }

  get peerId(): string {
    return this.identity.peerId;
  }

  getSnapshot(): PeerSnapshot {
    return this.snapshot;
  }

  subscribe(cb: (s: PeerSnapshot) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** The trainer, once started (for experiments and tests). */
  get runtime(): Trainer | null {
    return this.trainer;
  }

  get expertServer(): ExpertServer | null {
    return this.server;
  }

  private publish(patch: Partial<PeerSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const cb of this.listeners) cb(this.snapshot);
  }

  async start(): Promise<void> {
    if (this.snapshot.status !== 'stopped' && this.snapshot.status !== 'error') return;
    this.publish({ status: 'starting', error: null });
    try {
      const task = typeof this.opts.task === 'function' ? await this.opts.task() : this.opts.task;
      const model: ModelOptions = { ...DEFAULT_MODEL_OPTIONS, ...this.opts.model };
      const step: StepOptions = { ...DEFAULT_STEP_OPTIONS, ...this.opts.step };
      const backend = this.opts.backend;
      const trial = this.opts.backendTrial;
      if (backend !== false && trial && !backend?.force) {
        this.publish({
          backend: await selectBackendByTrial({
            ...backend,
            ...(typeof trial === 'object' ? trial : {}),
            workload: trainerTrialWorkload(task, model, step),
          }),
        });
      } else if (backend !== false) this.publish({ backend: await selectBackend(backend ?? {}) });
      const resolve = async <T>(f: Factory<T> | null | undefined): Promise<T | null> =>
        f == null
          ? null
          : typeof f === 'function'
            ? await (f as (id: Identity) => T | Promise<T>)(this.identity)
            : f;
      this.network = await resolve(this.opts.network);
      this.chain = await resolve(this.opts.chain);
      const trainer = new Trainer(task, this.peerId, this.network, model, step);
      this.trainer = trainer;
      await this.restore(trainer);

      this.server = new ExpertServer(
        trainer.encoder,
        (caller) => this.heldMask ?? this.masks?.forCaller(this.chain?.uidOf(caller) ?? null) ?? 1,
        { ...DEFAULT_EXPERT_SERVER_OPTIONS, ...this.opts.server },
        undefined,
        (caller) => this.stakeOf(caller),
      );
      if (this.network) {
        this.cleanups.push(this.network.serve(this.server));
        this.publish({ connection: 'connected' });
        const pingMs = this.opts.pingEveryMs ?? 5000;
        if (pingMs > 0 && this.network.ping) {
          const timer = setInterval(() => void this.probeLatency(), pingMs);
          this.cleanups.push(() => clearInterval(timer));
        }
      }
      if (this.chain) {
        const chain = this.chain;
        this.cleanups.push(chain.onHead((state) => this.onHead(state)));
        const state = chain.state();
        if (state) this.applyChainState(state);
        this.registerRetryAtHeight = (state?.height ?? 0) + REGISTER_RETRY_EVERY_BLOCKS;
        chain
          .ensureRegistered()
          .catch((err: unknown) => this.publish({ error: errorOf('register-failed', err) }));
      }
      this.publish({
        status: 'running',
        uid: this.chain?.uidOf(this.peerId) ?? null,
        step: trainer.stepCount,
      });
      this.refreshRows();
      if (this.opts.autoRun !== false) this.loop = this.run();
    } catch (err) {
      this.publish({ status: 'error', error: errorOf('start-failed', err) });
      throw err;
    }
  }

  pause(): void {
    if (this.snapshot.status === 'running') this.publish({ status: 'paused' });
  }

  resume(): void {
    if (this.snapshot.status !== 'paused') return;
    this.publish({ status: 'running' });
    this.wake?.();
  }

  async stop(): Promise<void> {
    const status = this.snapshot.status;
    if (status === 'stopped' || status === 'stopping') return;
    this.publish({ status: 'stopping' });
    this.wake?.();
    await this.loop;
    this.loop = null;
    for (const c of this.cleanups.splice(0)) c();
    if (this.trainer) await this.save(this.trainer).catch(() => undefined);
    this.server?.dispose();
    this.trainer?.dispose();
    this.server = null;
    this.trainer = null;
    this.publish({ status: 'stopped', connection: this.network ? 'closed' : this.snapshot.connection });
  }

  /**
   * Held-out loss/accuracy with the live network (`Trainer.evaluateLive`):
   * remote experts answer over the network, stand-ins only for the absent;
   * `ablate: peerId` zeroes that peer's contribution (eq 2 by ablation).
   */
  async evaluateLive(opts: EvaluateLiveOptions = {}): Promise<EvalResult> {
    const trainer = this.trainer;
    if (!trainer) throw new Error('evaluateLive: the peer is not started (call start() first)');
    return trainer.evaluateLive(opts);
  }

  /**
   * One bounded set-weights submission towards `target` (a row over all uids,
   * projected onto the simplex; moved at most ε from the ledger's row) against
   * the latest chain state. Rejects when there is no chain or no uid yet, on a
   * bad target, or when the ledger refuses the tx.
   */
  async submitRow(target: Float64Array): Promise<void> {
    const chain = this.chain;
    if (!this.trainer || !chain) throw new Error('submitRow: the peer is not started or has no chain');
    const state = chain.state();
    const uid = chain.uidOf(this.peerId);
    if (!state || uid === null) throw new Error('submitRow: no chain state or uid yet (not registered)');
    const previous = this.submission;
    const run = previous.then(() => this.submitToward(state, uid, target));
    this.submission = run.catch(() => undefined);
    await run;
  }

  /**
   * Serve every caller with the mask held at `value` instead of the ledger's
   * eq 7 mask (null: the ledger's masks again). For measurements that must
   * not depend on W, such as the swarm's ablation ideal.
   */
  holdMasks(value: number | null): void {
    this.heldMask = value;
  }

  /** Resolves when the backwards of earlier steps have been answered (see Trainer.settleBackwards). */
  settleBackwards(): Promise<void> {
    return this.trainer?.settleBackwards() ?? Promise.resolve();
  }

  /** One training step (the loop calls this; with autoRun false the caller does). */
  async step(): Promise<StepResult> {
    const trainer = this.trainer;
    if (!trainer) throw new Error('peer is not started');
    const result = await trainer.step();
    const every = this.opts.evalEverySteps ?? 25;
    const point: StepPoint = { step: result.step, timeMs: Date.now(), loss: result.loss };
    const scoreEvery = this.opts.scoreEverySteps ?? 2;
    const valSet = trainer.task.validationSet?.();
    if (
      scoreEvery > 0 &&
      result.step % scoreEvery === 0 &&
      trainer.scorer.removalSource === 'validation' &&
      valSet &&
      valSet.size > 0
    ) {
      this.validation ??= new ValidationCycle(valSet);
      const draw = this.validation.next(
        this.opts.scoreRows ?? 32,
        trainer.task.inputSize,
        trainer.task.numClasses,
      );
      const pass = await measureRemovalCosts(trainer, draw, undefined, this.opts.scoreRouting ?? 'noisy');
      trainer.scorer.observeValidation(pass.costSums, pass.rows, pass.credited);
      point.validationLoss = pass.loss;
      point.validationAccuracy = pass.accuracy;
      this.publish({ validation: { step: result.step, loss: pass.loss, accuracy: pass.accuracy } });
    }
    let accuracy = this.snapshot.accuracy;
    if (every > 0 && result.step % every === 0) {
      const ev = await trainer.evaluate();
      point.accuracy = ev.accuracy;
      accuracy = ev.accuracy;
    }
    const a = trainer.answers;
    const s = this.server?.stats;
    this.stats = {
      ...this.stats,
      forwardRequested: a.requested,
      answersAccepted: a.accepted,
      answersInvalid: a.invalid,
      answersLate: a.late,
      answersFailed: a.failed,
      standInUsed: a.standIn,
      forwardsServed: s?.forwardsServed ?? 0,
      remoteGradientsApplied: s?.backwardsApplied ?? 0,
      remoteGradientsRefused: s?.backwardsRefused ?? 0,
      forwardBytesPerStep: (a.forwardRequestBytes + a.forwardAnswerBytes) / Math.max(1, trainer.stepCount),
      lastStepMs: result.durationMs,
      numTensors: tf.memory().numTensors,
    };
    this.publish({
      step: result.step,
      loss: result.loss,
      accuracy,
      lossHistory: this.bounded(this.snapshot.lossHistory, point),
      stats: this.stats,
    });
    this.refreshRows();
    const saveEvery = this.opts.saveEverySteps ?? 100;
    if (saveEvery > 0 && result.step % saveEvery === 0) await this.save(trainer).catch(() => undefined);
    return result;
  }

  private async run(): Promise<void> {
    while (this.snapshot.status === 'running' || this.snapshot.status === 'paused') {
      if (this.snapshot.status === 'paused') {
        await new Promise<void>((r) => {
          this.wake = r;
        });
        this.wake = null;
        continue;
      }
      try {
        await this.step();
      } catch (err) {
        // A step only fails on a local fault (e.g. a lost GPU context): report it and keep going.
        this.publish({ error: errorOf('step-failed', err) });
      }
      await new Promise<void>((r) => setTimeout(r, this.opts.stepIntervalMs ?? 0));
    }
  }

  private bounded<T>(history: T[], point: T): T[] {
    const limit = this.opts.historyLimit ?? 2000;
    const next = history.length >= limit ? history.slice(history.length - limit + 1) : history.slice();
    next.push(point);
    return next;
  }

  private async probeLatency(): Promise<void> {
    const net = this.network;
    if (!net?.ping) return;
    await Promise.all(
      net.peers().map(async (p) => {
        try {
          this.latency.set(p, await net.ping!(p));
        } catch {
          this.latency.delete(p);
        }
      }),
    );
  }

  private applyChainState(state: ChainState): void {
    const uid = this.chain?.uidOf(this.peerId) ?? null;
    this.masks = new MaskTable(state, uid, this.opts.maskTemperature ?? 1);
    const weights = state.weights.map((row) => row.slice());
    this.publish({
      uid,
      network: {
        height: state.height,
        tau: state.tau,
        peers: state.peerIds.map((peerId, u) => ({
          uid: u,
          peerId,
          stake: state.stakes[u] ?? 0,
          rank: state.ranks[u] ?? 0,
        })),
        weights,
        ...(state.selfWeightsInRank !== undefined ? { selfWeightsInRank: state.selfWeightsInRank } : {}),
      },
    });
  }

  /** A caller's stake for the expert server: null while there is no ledger or no block yet. */
  private stakeOf(peerId: string): number | null {
    const state = this.chain?.state();
    if (!this.chain || !state || state.height === 0) return null;
    const uid = this.chain.uidOf(peerId);
    return uid === null ? 0 : (state.stakes[uid] ?? 0);
  }

  private onHead(state: ChainState): void {
    this.server?.newBlock();
    // The costs measured since the previous head make one complete block of the scorer's window.
    this.trainer?.scorer.closeBlock();
    this.applyChainState(state);
    const uid = this.snapshot.uid;
    if (uid !== null) {
      const point: BlockPoint = {
        height: state.height,
        timeMs: Date.now(),
        stake: state.stakes[uid] ?? 0,
        rank: state.ranks[uid] ?? 0,
        tau: state.tau,
      };
      this.publish({ blockHistory: this.bounded(this.snapshot.blockHistory, point) });
      if (this.opts.submitWeights !== false) void this.submitBlockRow(state, uid);
    } else if (this.chain && state.height >= this.registerRetryAtHeight) {
      // Still no uid: the registration may have been deferred, refused or lost
      // with a producer that crashed after acknowledging it. Send it again
      // (a pending one answers duplicate-key, which counts as sent).
      this.registerRetryAtHeight = state.height + REGISTER_RETRY_EVERY_BLOCKS;
      this.chain
        .ensureRegistered()
        .catch((err: unknown) => this.publish({ error: errorOf('register-failed', err) }));
    }
    this.refreshRows();
  }

  /**
   * Once per block: the scorer's target row (or `opts.targetRow`'s), moved at
   * most ε from the ledger's row (§1.3), signed and sent. A block that comes
   * while the previous submission is still out is skipped.
   */
  private async submitBlockRow(state: ChainState, uid: number): Promise<void> {
    const trainer = this.trainer;
    const chain = this.chain;
    if (!trainer || !chain || this.submitting) return;
    this.submitting = true;
    const run = this.submission.then(async () => {
      const slotUid = trainer.slots.map((p) => (p === null ? null : chain.uidOf(p)));
      const scored = trainer.scorer.targetRow(slotUid, uid, state.peerIds.length);
      let target = scored;
      if (this.opts.targetRow) {
        try {
          target = this.opts.targetRow({ state, uid, scored });
        } catch (err) {
          this.stats = { ...this.stats, weightTxsFailed: this.stats.weightTxsFailed + 1 };
          this.publish({ error: errorOf('target-row-failed', err), stats: this.stats });
          return;
        }
      }
      await this.submitToward(state, uid, target);
    });
    this.submission = run.catch(() => undefined);
    try {
      await run;
    } catch {
      // counted and published by submitToward
    } finally {
      this.submitting = false;
    }
  }

  /** The bounded step from the ledger's row towards `target`, signed and sent; counted and published. */
  private async submitToward(state: ChainState, uid: number, target: Float64Array): Promise<void> {
    const chain = this.chain;
    try {
      if (!chain) throw new Error('no chain');
      const n = state.peerIds.length;
      if (target.length !== n)
        throw new RangeError(`target row has ${target.length} entries, the chain has ${n} uids`);
      if (!target.every((w) => Number.isFinite(w)))
        throw new RangeError('target row has a NaN or infinite entry');
      const next = nextWeightRow(denseRow(state, uid), projectToSimplex(target), uid, state.epsilon);
      await chain.submitWeights(sparseRow(next));
      this.stats = { ...this.stats, weightTxsSubmitted: this.stats.weightTxsSubmitted + 1 };
    } catch (err) {
      this.stats = { ...this.stats, weightTxsFailed: this.stats.weightTxsFailed + 1 };
      this.publish({ error: errorOf('weights-rejected', err) });
      throw err;
    } finally {
      this.publish({ stats: this.stats });
    }
  }

  /** Rebuilds the peers table: self and every slot, with gate weight, our w_ij, stake and rank. */
  private refreshRows(): void {
    const trainer = this.trainer;
    if (!trainer) return;
    const online = new Set(this.network?.peers() ?? []);
    const gate = trainer.scorer.gateWeights();
    const net = this.snapshot.network;
    const myUid = this.snapshot.uid;
    const myRow = new Map<number, number>(myUid !== null && net ? (net.weights[myUid] ?? []) : []);
    const rows: PeerRow[] = [];
    trainer.slots.forEach((peerId, s) => {
      if (peerId === null) return;
      const uid = this.chain?.uidOf(peerId) ?? null;
      const onChain = uid !== null ? net?.peers[uid] : undefined;
      rows.push({
        peerId,
        uid,
        online: s === 0 || online.has(peerId),
        isSelf: s === 0,
        latencyMs: s === 0 ? 0 : (this.latency.get(peerId) ?? null),
        gateWeight: gate[s] ?? 0,
        weight: uid !== null ? (myRow.get(uid) ?? 0) : 0,
        stake: onChain?.stake ?? 0,
        rank: onChain?.rank ?? 0,
      });
    });
    this.publish({ peers: rows });
  }

  private async restore(trainer: Trainer): Promise<void> {
    const storage = this.opts.storage;
    if (!storage) return;
    const meta = await storage.get(STORAGE_KEYS.meta);
    if (meta) {
      try {
        const m = JSON.parse(new TextDecoder().decode(meta)) as PersistedMeta;
        if (m.version === 1) {
          trainer.restoreSlots(m.slots);
          trainer.stepCount = m.step;
          this.publish({
            step: m.step,
            lossHistory: m.lossHistory,
            blockHistory: m.blockHistory,
            loss: m.lossHistory.at(-1)?.loss ?? null,
          });
        }
      } catch {
        // A corrupt history is not worth refusing to start over.
      }
    }
    const weights = await storage.get(STORAGE_KEYS.weights);
    if (!weights) return;
    // Weights saved by another model shape (e.g. the sum head of d inputs
    // before G(x) became the concatenation) must not be half-imported: start
    // from fresh weights, keep identity and history, and say so.
    let reason: string | null;
    let decoded: NamedWeights | null = null;
    try {
      decoded = decodeWeights(weights);
      reason = trainer.weightsMismatch(decoded);
    } catch (err) {
      reason = `unreadable: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (decoded && reason === null) {
      trainer.importWeights(decoded);
      return;
    }
    this.publish({
      error: {
        code: 'weights-discarded',
        message: `stored weights do not fit this model (${reason}); training starts from fresh weights`,
      },
    });
  }

  private async save(trainer: Trainer): Promise<void> {
    const storage = this.opts.storage;
    if (!storage) return;
    await storage.set(STORAGE_KEYS.weights, encodeWeights(await trainer.exportWeights()));
    const meta: PersistedMeta = {
      version: 1,
      step: trainer.stepCount,
      slots: trainer.slots.slice(),
      lossHistory: this.snapshot.lossHistory,
      blockHistory: this.snapshot.blockHistory,
    };
    await storage.set(STORAGE_KEYS.meta, new TextEncoder().encode(JSON.stringify(meta)));
  }
}
