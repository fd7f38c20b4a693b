/**
 * N real Peers of packages/peer (the code a browser tab runs) in one process,
 * driven in lockstep: every swarm step each running Peer takes one `step()`
 * (querying the others through the swarm's transport), the ledger produces a
 * block every `blockSteps` steps (embedded) or on its server's clock
 * (--server), and every `evalEvery` steps each Peer is evaluated on the
 * shared balanced held-out set with its live experts (B = Σ L_i, eq 1).
 * Optional: noise and weight-copying adversaries, churn, and the ablation
 * measurement of the ideal rank (eq 2) at the end.
 */
import { type ChainClient, type ChainState, loadMnistDigits, type MnistDigits } from '@peerbench/peer';
import type { SignalingServer } from '@peerbench/signaling-server';
import { measureIdeal } from './ablation.js';
import type { SwarmOptions } from './args.js';
import { openEnvironment } from './environment.js';
import type { SwarmLedger } from './ledger.js';
import { NewcomerArrivals } from './newcomer-arrivals.js';
import { createParticipant, type Participant, participantKinds, participantRecord } from './participants.js';
import type { AblationRecord, BlockRecord, ParticipantRecord, StepRecord, SwarmRecord } from './record.js';
import { RECORD_VERSION } from './record.js';
import { summarize } from './summary.js';
import { RpcClock } from './timing.js';
import { MESH_SETTLE_TIMEOUT_MS, type SwarmTransport } from './transport.js';

export { SWARM_MODEL } from './participants.js';

/** How long to wait for the participants' register txs to land before the first step. */
export const REGISTER_TIMEOUT_MS = 30_000;
/** Before producing a block, how long to wait for the running Peers' set-weights txs. */
export const ROWS_WAIT_MS = 2_000;

export interface SwarmHooks {
  progress?: (line: string) => void;
}

const finiteOrNull = (v: number | null | undefined): number | null =>
  v !== null && v !== undefined && Number.isFinite(v) ? v : null;

const tick = (ms = 0) => new Promise<void>((r) => setTimeout(r, ms));

export class Swarm {
  readonly participants: Participant[] = [];
  readonly records: ParticipantRecord[] = [];
  private readonly clock = new RpcClock();
  private readonly stopped = new Set<number>();
  private readonly steps: StepRecord[] = [];
  private readonly blocks: BlockRecord[] = [];
  private ablation: AblationRecord | null = null;
  private interrupted = false;
  private stepsDone = 0;
  private currentStep = 0;
  private trainMs = 0;
  private disposed = false;
  private unsubscribeHeads: (() => void) | null = null;
  private digits: MnistDigits = [];
  /** --newcomers: who joins late, their deferred networks, and what happens to them. */
  private readonly newcomers: NewcomerArrivals | null;

  private constructor(
    readonly opts: SwarmOptions,
    private readonly hooks: SwarmHooks,
    readonly transport: SwarmTransport,
    readonly ledger: SwarmLedger,
    private readonly server: SignalingServer | null,
  ) {
    this.newcomers = NewcomerArrivals.forSwarm(opts, participantKinds(opts).length);
  }

  /** Opens the ledger (and signaling server), creates and starts every participant, registers them on chain. */
  static async create(opts: SwarmOptions, hooks: SwarmHooks = {}): Promise<Swarm> {
    const env = await openEnvironment(opts);
    const swarm = new Swarm(opts, hooks, env.transport, env.ledger, env.server);
    try {
      await swarm.setup();
    } catch (err) {
      await swarm.dispose();
      throw err;
    }
    return swarm;
  }

  private say(line: string): void {
    if (!this.opts.quiet) this.hooks.progress?.(line);
  }

  private async setup(): Promise<void> {
    const { opts } = this;
    const kinds = participantKinds(opts);
    this.digits = await loadMnistDigits();
    const ctx = {
      opts,
      digits: this.digits,
      slots: kinds.length,
      clock: this.clock,
      connect: async (identity: Parameters<SwarmTransport['connect']>[0]) => {
        const net =
          this.newcomers?.defer(identity, this.participants.length) ??
          (await this.transport.connect(identity));
        const chain = await this.ledger.clientFor(identity, this.transport.ledgerOf(identity.peerId));
        return { net, chain };
      },
    };
    for (let index = 0; index < kinds.length; index++) {
      const record = participantRecord(opts, kinds, index);
      this.records.push(record);
      this.participants.push(await createParticipant(ctx, record));
    }
    await this.transport.settle(MESH_SETTLE_TIMEOUT_MS);
    await this.awaitRegistration();
    if (!this.ledger.producer) {
      this.unsubscribeHeads = this.observer().onHead((state) => this.recordBlock(state, this.currentStep));
    }
  }

  /** The chain client whose view of the ledger the records use (participant 0 never churns). */
  private observer(): ChainClient {
    return this.participants[0]!.chain;
  }

  private async awaitRegistration(): Promise<void> {
    const all = () => this.participants.every((p) => p.chain.uidOf(p.identity.peerId) !== null);
    const deadline = Date.now() + REGISTER_TIMEOUT_MS;
    const producer = this.ledger.producer;
    while (!all()) {
      if (Date.now() > deadline)
        throw new Error(
          `not every participant was registered on the ledger within ${REGISTER_TIMEOUT_MS} ms`,
        );
      if (producer) {
        // Register txs are signed asynchronously by each Peer's start(); produce once they are in.
        for (let t = 0; t < 200 && producer.mempoolSize < this.participants.length; t++) await tick(5);
        await producer.produceBlock();
      }
      await tick(producer ? 0 : 50);
    }
  }

  private running(p: Participant): boolean {
    return !this.stopped.has(p.index) && !this.newcomers?.waiting(p.index);
  }

  private trainers(): Participant[] {
    return this.participants.filter((p) => p.peer !== null && this.running(p));
  }

  /** Runs to the end or until `signal` aborts; always returns what was measured. */
  async run(signal?: AbortSignal): Promise<SwarmRecord> {
    const t0 = performance.now();
    const { opts } = this;
    await this.evaluateAll(0, null);
    for (let step = 1; step <= opts.steps; step++) {
      // The in-memory network can resolve without a macrotask; yield so SIGINT and the ledger run.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal?.aborted) {
        this.interrupted = true;
        break;
      }
      this.currentStep = step;
      if (opts.churn && step === opts.churn.atStep) await this.applyChurn(step);
      if (this.newcomers?.dueAt(step)) await this.newcomers.admit(this.transport, (l) => this.say(l));
      const ts = performance.now();
      const cpu0 = process.cpuUsage();
      const trainLoss: (number | null)[] = this.participants.map(() => null);
      let standIns = 0;
      let failedSteps = 0;
      this.clock.counting = true;
      for (const p of this.trainers()) {
        const peer = p.peer!;
        const before = peer.getSnapshot().stats?.standInUsed ?? 0;
        try {
          trainLoss[p.index] = finiteOrNull((await peer.step()).loss);
          // On the memory transport, each step's backwards land before the next
          // peer steps, so a seeded run does not depend on the machine's load.
          if (opts.transport === 'memory' && !opts.server) await peer.settleBackwards();
        } catch (err) {
          failedSteps++;
          this.say(`step ${step}: peer ${p.index} failed: ${(err as Error).message}`);
        }
        standIns += (peer.getSnapshot().stats?.standInUsed ?? 0) - before;
      }
      this.clock.counting = false;
      const ms = performance.now() - ts;
      const cpu = process.cpuUsage(cpu0);
      this.trainMs += ms;
      this.stepsDone = step;
      const rec: StepRecord = {
        step,
        trainLoss,
        standIns,
        failedSteps,
        ms,
        cpuMs: (cpu.user + cpu.system) / 1000,
      };
      this.steps.push(rec);
      if (this.ledger.producer && step % opts.blockSteps === 0) await this.produceBlock(step);
      if (step % opts.evalEvery === 0 || step === opts.steps) await this.evaluateAll(step, rec);
    }
    if (opts.ablate && !this.interrupted) await this.runAblation();
    const wallMs = performance.now() - t0;
    return this.toRecord(wallMs);
  }

  private async applyChurn(step: number): Promise<void> {
    const honest = this.participants.filter((p) => p.kind === 'honest' && this.running(p));
    const victims = honest.slice(-(this.opts.churn?.count ?? 0));
    for (const v of victims) {
      this.stopped.add(v.index);
      this.records[v.index]!.stoppedAtStep = step;
      // Like a closed tab: its links go first, then the Peer stops.
      await this.transport.disconnect(v.identity.peerId);
      await v.peer?.stop();
    }
    this.say(`step ${step}: churn stopped peers ${victims.map((v) => v.index).join(', ')}`);
  }

  /** Embedded ledger: waits for the running Peers' set-weights txs (sent on the last head), then produces. */
  private async produceBlock(step: number): Promise<void> {
    const producer = this.ledger.producer!;
    const scorers = this.trainers().length;
    const deadline = performance.now() + ROWS_WAIT_MS;
    while (producer.mempoolSize < scorers && performance.now() < deadline) await tick(1);
    await producer.produceBlock();
    // Let the Peers' head handlers run (masks, snapshots, their next row) before reading gates.
    await tick();
    const state = this.observer().state();
    if (state) this.recordBlock(state, step);
  }

  private recordBlock(state: ChainState, step: number): void {
    const ids = this.participants.map((p) => p.identity.peerId);
    const uids = ids.map((id) => state.peerIds.indexOf(id));
    const n = ids.length;
    this.blocks.push({
      height: state.height,
      step,
      S: uids.map((u) => (u >= 0 ? (state.stakes[u] ?? 0) : 0)),
      R: uids.map((u) => (u >= 0 ? (state.ranks[u] ?? 0) : 0)),
      W: uids.map((u) => {
        const row = new Array<number>(n).fill(0);
        for (const [j, w] of u >= 0 ? (state.weights[u] ?? []) : []) {
          const col = uids.indexOf(j);
          if (col >= 0) row[col] = w;
        }
        return row;
      }),
      tau: state.tau,
      gateWeight: this.participants.map((p) => {
        const row = new Array<number>(n).fill(0);
        if (!p.peer || !this.running(p)) return row;
        for (const r of p.peer.getSnapshot().peers) {
          const col = ids.indexOf(r.peerId);
          if (col >= 0) row[col] = r.gateWeight;
        }
        return row;
      }),
      ownRowShare: [],
    });
    this.newcomers?.observe(state, step, this.participants, (p) => this.running(p));
    const b = this.blocks[this.blocks.length - 1]!;
    const counted = this.opts.selfWeights === 'count';
    b.ownRowShare = ids.map((_, j) => {
      let total = 0;
      for (let i = 0; i < n; i++) if (counted || i !== j) total += b.S[i]! * b.W[i]![j]!;
      if (!(total > 0)) return null;
      return counted ? (b.S[j]! * b.W[j]![j]!) / total : 0;
    });
  }

  private async evaluateAll(step: number, rec: StepRecord | null): Promise<void> {
    const loss: (number | null)[] = this.participants.map(() => null);
    const acc: (number | null)[] = this.participants.map(() => null);
    const offline: (number | null)[] = this.participants.map(() => null);
    let B = 0;
    for (const p of this.trainers()) {
      const r = await p.peer!.evaluateLive({});
      loss[p.index] = finiteOrNull(r.loss);
      acc[p.index] = finiteOrNull(r.accuracy);
      const cut = await p.peer!.runtime?.evaluate();
      offline[p.index] = finiteOrNull(cut?.accuracy);
      if (p.kind === 'honest') B += r.loss;
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
    target.heldOutOfflineAccuracy = offline;
    const b = finiteOrNull(B);
    if (b !== null) target.B = b;
    if (!rec) this.steps.push(target);
    const meanAcc = acc.filter((a): a is number => a !== null);
    const meanOffline = offline.filter((a): a is number => a !== null);
    const mean = (v: number[]) => (v.reduce((a, x) => a + x, 0) / Math.max(1, v.length)).toFixed(3);
    const sps = this.trainMs > 0 ? (this.stepsDone / this.trainMs) * 1000 : 0;
    this.say(
      `step ${step}/${this.opts.steps} B=${B.toFixed(3)} meanAcc=${mean(meanAcc)} offline=${mean(meanOffline)} blocks=${this.blocks.length} ${sps.toFixed(2)} steps/s`,
    );
  }

  /** Eq 2 by ablation, independent of W (ablation.ts). */
  private async runAblation(): Promise<void> {
    this.say(
      `ablation: zeroing each participant in every G(x), masks held at ${this.opts.ablationMask}, on each peer's own held-out draws…`,
    );
    this.ablation = await measureIdeal({
      opts: this.opts,
      digits: this.digits,
      participants: this.participants,
      records: this.records,
      alive: this.participants.filter((p) => this.running(p)).map((p) => p.index),
      last: this.blocks[this.blocks.length - 1],
    });
    const a = this.ablation;
    this.say(
      `ablation: Spearman(ledger R, ideal) = ${a.spearman?.toFixed(3) ?? 'undefined'} (honest only ${a.spearmanHonest?.toFixed(3) ?? 'undefined'}; rows ${a.meanRowSpearman?.toFixed(3) ?? 'undefined'})`,
    );
  }

  toRecord(wallMs: number): SwarmRecord {
    const { out: _out, ...options } = this.opts;
    return {
      version: RECORD_VERSION,
      createdAt: new Date().toISOString(),
      options,
      transport: this.transport.name,
      chain: this.ledger.name,
      participants: this.records,
      steps: this.steps,
      blocks: this.blocks,
      ablation: this.ablation,
      ...(this.newcomers
        ? {
            newcomers: this.newcomers.report(this.observer().state(), this.participants, (p) =>
              this.running(p),
            ),
          }
        : {}),
      summary: summarize({
        opts: this.opts,
        records: this.records,
        steps: this.steps,
        blocks: this.blocks,
        stepsDone: this.stepsDone,
        interrupted: this.interrupted,
        wallMs,
        trainMs: this.trainMs,
        rpcMs: this.clock.totalMs,
        servingMs: this.clock.servingMs,
      }),
    };
  }

  /** Stops every participant, the transport, the signaling server and the ledger (idempotent). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.unsubscribeHeads?.();
    for (const p of this.participants) {
      p.unserve?.();
      await p.peer?.stop().catch(() => undefined);
    }
    await this.transport.stop().catch(() => undefined);
    await this.server?.stop().catch(() => undefined);
    await this.ledger.stop().catch(() => undefined);
  }
}
