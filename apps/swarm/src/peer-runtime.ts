/**
 * `--runtime peer`: the same experiment loop, but every honest participant is
 * the real `Peer` of packages/peer (the code a browser tab runs), driven in
 * lockstep (`autoRun: false`, one `step()` each per swarm step), over the
 * peer package's in-memory expert network, with the real ledger
 * (packages/ledger BlockProducer, in memory, signed register and set-weights
 * txs through LedgerChainClient). Blocks are produced every `blockSteps`.
 *
 * Composition only, no hooks into Peer: a noise adversary is a hub endpoint
 * whose forward handler answers uniform noise and that registers on the
 * ledger with its own signed tx; churn is `peer.stop()` plus leaving the hub.
 * Not available on this path (the Trainer exposes no ablated evaluation and
 * no way to submit someone else's row from inside a Peer): --ablate and
 * --adversary copy; the CLI rejects them with --runtime peer.
 */
import { createRegisterTx, generateIdentity, LocalChain, openEmbeddedLedger } from '@peerbench/ledger';
import { createRng } from '@peerbench/mechanism';
import {
  type ExpertHandlers,
  InMemoryHub,
  LedgerChainClient,
  loadMnistDigits,
  MnistTask,
  Peer,
  skewedClassMix,
  type WireTensor,
} from '@peerbench/peer';
import type { SwarmOptions } from './args.js';
import { dominantDigits } from './data.js';
import type { BlockRecord, ParticipantRecord, StepRecord, SwarmRecord, SwarmSummary } from './record.js';
import { RECORD_VERSION } from './record.js';

export const PEER_RUNTIME_UNSUPPORTED = ['ablate', 'copy'] as const;

const finiteOrNull = (v: number | null | undefined): number | null =>
  v !== null && v !== undefined && Number.isFinite(v) ? v : null;

export async function runPeerSwarm(
  opts: SwarmOptions,
  progress: (line: string) => void,
  signal?: AbortSignal,
): Promise<SwarmRecord> {
  const t0 = performance.now();
  const say = (l: string) => {
    if (!opts.quiet) progress(l);
  };
  const ledger = await openEmbeddedLedger({
    autoStart: false,
    genesis: { stepBoundL2: opts.epsilon, tau: { mode: 'fixed', value: opts.tau } },
  });
  const chain = new LocalChain(ledger.producer);
  const hub = new InMemoryHub();
  const digits = await loadMnistDigits();
  const noiseCount = opts.adversaries.filter((a) => a.kind === 'noise').reduce((s, a) => s + a.count, 0);
  const n = opts.peers + noiseCount;
  const evalPerClass = Math.max(1, Math.floor(opts.evalSize / 10));

  const peers: Peer[] = [];
  const records: ParticipantRecord[] = [];
  for (let i = 0; i < opts.peers; i++) {
    const peer = await Peer.create({
      task: () =>
        MnistTask.create({
          digits,
          shardSize: opts.shardSizes[i]!,
          classMix: skewedClassMix(dominantDigits(i), opts.skew),
          evalPerClass,
          seed: opts.seed * 100 + i,
        }),
      network: opts.mode === 'isolated' ? null : (id) => hub.join(id.peerId),
      chain: (id) => new LedgerChainClient(chain, id),
      backend: false,
      autoRun: false,
      evalEverySteps: 0,
      saveEverySteps: 0,
      pingEveryMs: 0,
      maskTemperature: opts.temperature,
      model: {
        topK: opts.k,
        learningRate: opts.learningRate,
        maxExperts: Math.max(2, n),
        seed: opts.seed * 1000 + i,
      },
      step: { batchSize: opts.batch },
    });
    peers.push(peer);
    records.push({
      index: i,
      kind: 'honest',
      shardSize: opts.shardSizes[i]!,
      dominantDigits: dominantDigits(i),
      stoppedAtStep: null,
    });
  }
  for (const p of peers) await p.start();

  // Noise adversaries: endpoints that answer noise, ignore gradients, and register like anyone.
  const rng = createRng(opts.seed * 31 + 7);
  const noiseIds: string[] = [];
  for (let a = 0; a < noiseCount; a++) {
    const identity = await generateIdentity();
    const net = hub.join(identity.peerId);
    const handlers: ExpertHandlers = {
      async forward(_from, _id, x: WireTensor): Promise<WireTensor> {
        const rows = x.shape[0] ?? 0;
        const d = 64;
        const data = new Float32Array(rows * d);
        for (let q = 0; q < data.length; q++) data[q] = rng.next() * 2 - 1;
        return { shape: [rows, d], data };
      },
      async backward() {},
    };
    net.serve(handlers);
    await chain.submitTx(await createRegisterTx(identity));
    noiseIds.push(identity.peerId);
    records.push({
      index: opts.peers + a,
      kind: 'noise',
      shardSize: 0,
      dominantDigits: null,
      stoppedAtStep: null,
    });
  }
  // One block registers everyone (their register txs are in the mempool).
  await new Promise((r) => setTimeout(r, 10));
  await ledger.producer.produceBlock();

  const idOf = [...peers.map((p) => p.peerId), ...noiseIds];
  const uidOrder = () => {
    const view = ledger.producer.state();
    return idOf.map((id) => view.peers.indexOf(id));
  };

  const steps: StepRecord[] = [];
  const blocks: BlockRecord[] = [];
  const stopped = new Set<number>();
  let interrupted = false;
  let stepsDone = 0;
  let trainMs = 0;

  const evaluate = (step: number, rec: StepRecord | null) => {
    const loss: (number | null)[] = idOf.map(() => null);
    const acc: (number | null)[] = idOf.map(() => null);
    let B = 0;
    peers.forEach((p, i) => {
      if (stopped.has(i) || !p.runtime) return;
      const r = p.runtime.evaluate();
      loss[i] = finiteOrNull(r.loss);
      acc[i] = finiteOrNull(r.accuracy);
      B += r.loss;
    });
    const target = rec ?? { step, trainLoss: idOf.map(() => null), standIns: 0, failedSteps: 0, ms: 0 };
    target.heldOutLoss = loss;
    target.heldOutAccuracy = acc;
    const b = finiteOrNull(B);
    if (b !== null) target.B = b;
    if (!rec) steps.push(target);
    const a = acc.filter((v): v is number => v !== null);
    say(
      `step ${step}/${opts.steps} B=${B.toFixed(3)} meanAcc=${(a.reduce((s, v) => s + v, 0) / Math.max(1, a.length)).toFixed(3)} blocks=${blocks.length} ${trainMs > 0 ? ((stepsDone / trainMs) * 1000).toFixed(2) : '0.00'} steps/s`,
    );
  };

  const recordBlock = (step: number) => {
    const view = ledger.producer.state();
    const uids = uidOrder();
    const scale = view.weightScale;
    const W = uids.map((ui) => {
      const row = new Array<number>(n).fill(0);
      for (const [j, w] of view.weights[ui] ?? []) {
        const col = uids.indexOf(j);
        if (col >= 0) row[col] = w / scale;
      }
      return row;
    });
    blocks.push({
      height: view.height,
      step,
      S: uids.map((u) => view.stake[u] ?? 0),
      R: uids.map((u) => view.rank[u] ?? 0),
      W,
      tau: view.tau,
      gateWeight: idOf.map((_, i) => {
        const row = new Array<number>(n).fill(0);
        const snap = peers[i]?.getSnapshot();
        for (const pr of snap?.peers ?? []) {
          const col = idOf.indexOf(pr.peerId);
          if (col >= 0) row[col] = pr.gateWeight;
        }
        return row;
      }),
    });
  };

  try {
    evaluate(0, null);
    for (let step = 1; step <= opts.steps; step++) {
      await new Promise<void>((r) => setImmediate(r));
      if (signal?.aborted) {
        interrupted = true;
        break;
      }
      if (opts.churn && step === opts.churn.atStep) {
        const victims = peers.map((_, i) => i).slice(-opts.churn.count);
        for (const v of victims) {
          stopped.add(v);
          records[v]!.stoppedAtStep = step;
          hub.leave(peers[v]!.peerId);
          await peers[v]!.stop();
        }
        say(`step ${step}: churn stopped peers ${victims.join(', ')}`);
      }
      const ts = performance.now();
      const trainLoss: (number | null)[] = idOf.map(() => null);
      let failed = 0;
      const before = peers.map((p) => p.getSnapshot().stats?.standInUsed ?? 0);
      for (let i = 0; i < peers.length; i++) {
        if (stopped.has(i)) continue;
        try {
          trainLoss[i] = finiteOrNull((await peers[i]!.step()).loss);
        } catch (err) {
          failed++;
          say(`step ${step}: peer ${i} failed: ${(err as Error).message}`);
        }
      }
      const standIns = peers.reduce(
        (s, p, i) => s + (p.getSnapshot().stats?.standInUsed ?? 0) - before[i]!,
        0,
      );
      const ms = performance.now() - ts;
      trainMs += ms;
      stepsDone = step;
      const rec: StepRecord = { step, trainLoss, standIns, failedSteps: failed, ms };
      steps.push(rec);
      if (step % opts.blockSteps === 0) {
        // Peers submitted their rows on the previous head; let those txs reach the mempool.
        await new Promise((r) => setTimeout(r, 0));
        await ledger.producer.produceBlock();
        recordBlock(step);
      }
      if (step % opts.evalEvery === 0 || step === opts.steps) evaluate(step, rec);
    }
  } finally {
    for (const p of peers) await p.stop().catch(() => undefined);
    await ledger.stop();
  }

  const withB = steps.filter((s) => s.B !== undefined);
  const firstB = withB[0]?.B ?? null;
  const lastB = withB[withB.length - 1]?.B ?? null;
  const summary: SwarmSummary = {
    stepsDone,
    blocks: blocks.length,
    interrupted,
    wallSeconds: (performance.now() - t0) / 1000,
    stepsPerSecond: trainMs > 0 ? (stepsDone / trainMs) * 1000 : 0,
    networkShare: 0,
    transportShare: 0,
    firstB,
    lastB,
    bDrop: firstB !== null && lastB !== null && firstB > 0 ? (firstB - lastB) / firstB : null,
    standInAnswers: steps.reduce((s, st) => s + st.standIns, 0),
    failedSteps: steps.reduce((s, st) => s + st.failedSteps, 0),
    nonFiniteLosses: 0,
  };
  const noise = records.filter((r) => r.kind === 'noise').map((r) => r.index);
  const honest = records.filter((r) => r.kind === 'honest' && !stopped.has(r.index)).map((r) => r.index);
  const last = blocks[blocks.length - 1];
  if (noise.length > 0 && last) {
    let from: number | null = null;
    for (const b of blocks) {
      if (Math.max(...noise.map((j) => b.R[j]!)) < Math.min(...honest.map((j) => b.R[j]!))) from ??= b.height;
      else from = null;
    }
    summary.noise = {
      peers: noise,
      rankBelowHonestFromBlock: from,
      weightBelowHonestFromBlock: null,
      gateBelowHonestFromBlock: null,
      finalRankNoise: noise.map((j) => last.R[j]!),
      finalMinRankHonest: Math.min(...honest.map((j) => last.R[j]!)),
    };
  }
  const { out: _out, ...options } = opts;
  return {
    version: RECORD_VERSION,
    createdAt: new Date().toISOString(),
    options,
    transport: 'memory (packages/peer InMemoryHub)',
    chain: 'ledger (packages/ledger BlockProducer, in memory)',
    participants: records,
    steps,
    blocks,
    ablation: null,
    summary,
  };
}
