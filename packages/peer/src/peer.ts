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
 *
 * Here: life cycle, the step's periodic work, new blocks. Beside it:
 * peer-options.ts, weight-submission.ts (§1.3), persistence.ts, peer-view.ts.
 */

import type { ExpertNetwork } from '@peerbench/mesh';
import type { Identity } from '@peerbench/protocol';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './backend.js';
import { selectBackendByTrial, trainerTrialWorkload } from './backend-trial.js';
import type { ChainClient, ChainState } from './chain.js';
import { MaskTable } from './competitive-mask.js';
import { type EvalResult, type EvaluateLiveOptions, liveAndOfflineAccuracy } from './evaluation.js';
import { DEFAULT_EXPERT_SERVER_OPTIONS, ExpertServer } from './expert-server.js';
import { NeighbourhoodRunner } from './neighbourhood-runner.js';
import type { Factory, PeerOptions } from './peer-options.js';
import {
  appendBounded,
  blockPoint,
  INITIAL_PEER_STATS,
  networkView,
  peerError,
  peerRows,
  probeLatency,
  stepStats,
} from './peer-view.js';
import { resolveIdentity, restorePeerState, savePeerState } from './persistence.js';
import { scoreOnValidation, ValidationCycle } from './removal-cost.js';
import { initialSnapshot, type PeerSnapshot, type PeerStats, type StepPoint } from './state.js';
import { Trainer } from './trainer.js';
import { type StepResult, withTrainerDefaults } from './trainer-options.js';
import { WeightSubmission } from './weight-submission.js';

export type { PeerOptions, TargetRowContext } from './peer-options.js';

/** A peer without a uid sends its registration again after this many blocks. */
const REGISTER_RETRY_EVERY_BLOCKS = 3;

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
  private validation: ValidationCycle | null = null;
  private heldMask: number | null = null;
  private readonly submission: WeightSubmission;
  private stats: PeerStats = INITIAL_PEER_STATS;
  private neighbours: ReturnType<typeof NeighbourhoodRunner.forPeer> = null;

  private constructor(identity: Identity, opts: PeerOptions) {
    this.identity = identity;
    this.opts = opts;
    this.snapshot = initialSnapshot(identity.peerId, opts.room ?? 'default');
    this.submission = new WeightSubmission({
      peerId: identity.peerId,
      chain: () => this.chain,
      trainer: () => this.trainer,
      targetRow: opts.targetRow,
      countTx: (outcome) => {
        this.stats =
          outcome === 'submitted'
            ? { ...this.stats, weightTxsSubmitted: this.stats.weightTxsSubmitted + 1 }
            : { ...this.stats, weightTxsFailed: this.stats.weightTxsFailed + 1 };
      },
      stats: () => this.stats,
      publish: (patch) => this.publish(patch),
    });
  }

  /** Resolves the identity (given, stored, or new) and builds a stopped peer. */
  static async create(opts: PeerOptions): Promise<Peer> {
    return new Peer(await resolveIdentity(opts.identity, opts.storage), opts);
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
      const { model, step } = withTrainerDefaults(this.opts.model, this.opts.step);
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
      if (this.opts.storage)
        await restorePeerState(this.opts.storage, trainer, (patch) => this.publish(patch));
      this.server = new ExpertServer(
        trainer.served(),
        (caller) => this.heldMask ?? this.masks?.forCaller(this.chain?.uidOf(caller) ?? null) ?? 1,
        { ...DEFAULT_EXPERT_SERVER_OPTIONS, ...this.opts.server },
        undefined,
        (caller) => this.stakeOf(caller),
        trainer.callerInputs,
      );
      if (this.network) {
        this.cleanups.push(this.network.serve(this.server));
        this.publish({ connection: 'connected' });
        const pingMs = this.opts.pingEveryMs ?? 5000;
        if (pingMs > 0 && this.network.ping) {
          const timer = setInterval(() => void probeLatency(this.network, this.latency), pingMs);
          this.cleanups.push(() => clearInterval(timer));
        }
      }
      this.neighbours = NeighbourhoodRunner.forPeer({
        network: this.network,
        trainer,
        server: this.server,
        settings: this.opts.neighbours,
        uidOf: (id) => this.chain?.uidOf(id) ?? null,
        publish: (neighbourhood) => this.publish({ neighbourhood }),
        state: this.chain?.state() ?? null,
      });
      if (this.chain) {
        const chain = this.chain;
        this.cleanups.push(chain.onHead((state) => this.onHead(state)));
        const state = chain.state();
        if (state) this.applyChainState(state);
        this.registerRetryAtHeight = (state?.height ?? 0) + REGISTER_RETRY_EVERY_BLOCKS;
        chain
          .ensureRegistered()
          .catch((err: unknown) => this.publish({ error: peerError('register-failed', err) }));
      }
      this.publish({
        status: 'running',
        uid: this.chain?.uidOf(this.peerId) ?? null,
        step: trainer.stepCount,
      });
      this.refreshRows();
      if (this.opts.autoRun !== false) this.loop = this.run();
    } catch (err) {
      this.publish({ status: 'error', error: peerError('start-failed', err) });
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
    this.neighbours?.stop();
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
  submitRow(target: Float64Array): Promise<void> {
    return this.submission.submitRow(target);
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
      const routing = this.opts.scoreRouting ?? 'noisy';
      const pass = await scoreOnValidation(trainer, this.validation, this.opts.scoreRows ?? 32, routing);
      point.validationLoss = pass.loss;
      point.validationAccuracy = pass.accuracy;
      this.publish({ validation: { step: result.step, loss: pass.loss, accuracy: pass.accuracy } });
    }
    let accuracy = this.snapshot.accuracy;
    let offlineAccuracy = this.snapshot.offlineAccuracy;
    if (every > 0 && result.step % every === 0) {
      ({ accuracy, offlineAccuracy } = await liveAndOfflineAccuracy(trainer, this.network !== null));
      Object.assign(point, { accuracy, offlineAccuracy });
    }
    this.stats = stepStats(
      this.stats,
      trainer.answers,
      this.server?.stats,
      trainer.stepCount,
      result.durationMs,
      tf.memory().numTensors,
    );
    this.publish({
      step: result.step,
      loss: result.loss,
      accuracy,
      ...(offlineAccuracy === undefined ? {} : { offlineAccuracy }),
      lossHistory: appendBounded(this.snapshot.lossHistory, point, this.historyLimit()),
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
        this.publish({ error: peerError('step-failed', err) });
      }
      await new Promise<void>((r) => setTimeout(r, this.opts.stepIntervalMs ?? 0));
    }
  }

  private historyLimit(): number {
    return this.opts.historyLimit ?? 2000;
  }

  private applyChainState(state: ChainState): void {
    const uid = this.chain?.uidOf(this.peerId) ?? null;
    this.masks = new MaskTable(state, uid, this.opts.maskTemperature ?? 1);
    this.publish({ uid, network: networkView(state) });
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
    this.neighbours?.onBlock(state);
    this.applyChainState(state);
    const uid = this.snapshot.uid;
    if (uid !== null) {
      const point = blockPoint(state, uid, Date.now());
      this.publish({ blockHistory: appendBounded(this.snapshot.blockHistory, point, this.historyLimit()) });
      if (this.opts.submitWeights !== false) void this.submission.submitBlockRow(state, uid);
    } else if (this.chain && state.height >= this.registerRetryAtHeight) {
      // Still no uid: the registration may have been deferred, refused or lost
      // with a producer that crashed after acknowledging it. Send it again
      // (a pending one answers duplicate-key, which counts as sent).
      this.registerRetryAtHeight = state.height + REGISTER_RETRY_EVERY_BLOCKS;
      this.chain
        .ensureRegistered()
        .catch((err: unknown) => this.publish({ error: peerError('register-failed', err) }));
    }
    this.refreshRows();
  }

  /** Rebuilds the peers table: self and every slot, with gate weight, our w_ij, stake and rank. */
  private refreshRows(): void {
    const trainer = this.trainer;
    if (!trainer) return;
    const peers = peerRows({
      slots: trainer.slots,
      gateWeights: trainer.scorer.gateWeights(),
      online: new Set(this.network?.peers() ?? []),
      latencyMs: this.latency,
      uidOf: (peerId) => this.chain?.uidOf(peerId) ?? null,
      network: this.snapshot.network,
      uid: this.snapshot.uid,
    });
    this.publish({ peers });
  }

  private async save(trainer: Trainer): Promise<void> {
    if (this.opts.storage) await savePeerState(this.opts.storage, trainer, () => this.snapshot);
  }
}
