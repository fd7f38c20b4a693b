/**
 * Peer benchmark (issue 6): one training step of peer A with k = 2 remote
 * experts vs the same model's isolated step, side by side in one run, and the
 * forward RPC bytes per step with fp32 vs fp16 on the wire. Also: the
 * isolated step with G(x) as eq 10's concatenation (default, head input N·d)
 * vs the sum (head input d), and the held-out evaluation offline (stand-ins)
 * vs live over the in-memory network (plain and with one expert ablated).
 *
 * Setup: A gates over 3 slots (self + B + C) with top-k = 3, so every example
 * goes to both remote experts (the worst case of k = 2 remote). B and C only
 * serve (forward + backward). Same encoder/head/batch as the isolated run.
 * Networks: the in-memory hub, and real WebRTC (@roamhq/wrtc) through the
 * real signaling server and PeerMesh, when they start.
 *
 * All three peers share this process and its 1-2 cores, so the remote
 * experts' compute is serialised with A's: across machines it would overlap.
 * Writes $PEERBENCH_BENCH_DIR/peer.json (default <repo>/bench-results/peer.json).
 */
import type { ExpertNetwork, WireDtype } from '@peerbench/mesh';
import { InMemoryHub, MeshExpertNetwork } from '@peerbench/mesh';
import { benchEntry } from '@peerbench/protocol/bench-entry';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend.js';
import { ExpertServer } from '../src/expert-server.js';
import { loadMnistDigits, MnistTask, skewedClassMix } from '../src/mnist-task.js';
import { Trainer } from '../src/trainer.js';
import { DEFAULT_MODEL_OPTIONS, DEFAULT_STEP_OPTIONS, type ModelOptions } from '../src/trainer-options.js';

const { log, writeResult } = benchEntry(import.meta.url);

const WARMUP_STEPS = 10;
const MEASURED_STEPS = Number(process.env.PEER_BENCH_STEPS ?? 60);
const BATCH = 32;
const MODEL: ModelOptions = { ...DEFAULT_MODEL_OPTIONS, maxExperts: 3, topK: 3, seed: 1 };

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
};

async function task(favourites: number[], seed: number): Promise<MnistTask> {
  return MnistTask.create({
    digits: await loadMnistDigits(),
    classMix: skewedClassMix(favourites, 0.9),
    shardSize: 500,
    seed,
  });
}

const serveMs = { value: 0 };

/** Runs one served call and adds its time to serveMs. */
async function timedServing<T>(serve: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await serve();
  } finally {
    serveMs.value += performance.now() - t0;
  }
}

interface Samples {
  total: number[];
  callerOnly: number[];
}

async function timeOne(t: Trainer, into: Samples, dtype: WireDtype): Promise<void> {
  t.stepOptions = { ...t.stepOptions, wireDtype: dtype };
  serveMs.value = 0;
  const t0 = performance.now();
  await t.step();
  const dt = performance.now() - t0;
  into.total.push(dt);
  into.callerOnly.push(dt - serveMs.value);
  // Let this step's backward calls land before the next measurement.
  await new Promise((r) => setTimeout(r, 5));
}

function summary(s: Samples) {
  return {
    medianMs: median(s.total),
    meanMs: s.total.reduce((a, b) => a + b, 0) / s.total.length,
    callerOnlyMedianMs: median(s.callerOnly),
    steps: s.total.length,
  };
}

interface Setup {
  a: Trainer;
  dispose(): void;
}

/** A with the network; B and C serve their encoders (timed, see serveMs). */
async function networked(nets: ExpertNetwork[]): Promise<Setup> {
  const [netA, netB, netC] = nets as [ExpertNetwork, ExpertNetwork, ExpertNetwork];
  const servers: Array<{ trainer: Trainer; server: ExpertServer }> = [];
  for (const [i, net] of [netB, netC].entries()) {
    const trainer = new Trainer(
      await task([3 + 3 * i, 4 + 3 * i, 5 + 3 * i], 10 + i),
      net.selfId,
      net,
      MODEL,
    );
    const server = new ExpertServer(trainer.encoder, () => 1);
    // Time spent serving, to separate the caller's own cost from the experts'
    // compute that only shares this thread because all peers share this process.
    net.serve({
      forward: (from, rid, x) => timedServing(() => server.forward(from, rid, x)),
      backward: (from, rid, g) => timedServing(() => server.backward(from, rid, g)),
    });
    servers.push({ trainer, server });
  }
  const a = new Trainer(await task([0, 1, 2], 1), netA.selfId, netA, MODEL, {
    ...DEFAULT_STEP_OPTIONS,
    batchSize: BATCH,
    kMin: 2,
    forwardTimeoutMs: 5000,
  });
  return {
    a,
    dispose() {
      a.dispose();
      for (const s of servers) {
        s.server.dispose();
        s.trainer.dispose();
      }
    },
  };
}

async function bytesPerStep(a: Trainer): Promise<Record<WireDtype, number>> {
  const bytes: Record<WireDtype, number> = { fp32: 0, fp16: 0 };
  for (const dtype of ['fp32', 'fp16'] as const) {
    a.stepOptions = { ...a.stepOptions, wireDtype: dtype };
    const before = a.answers.forwardRequestBytes + a.answers.forwardAnswerBytes;
    const n = 5;
    for (let s = 0; s < n; s++) await a.step();
    bytes[dtype] = (a.answers.forwardRequestBytes + a.answers.forwardAnswerBytes - before) / n;
  }
  return bytes;
}

async function webrtcNets(): Promise<{ nets: ExpertNetwork[]; close: () => Promise<void> }> {
  const { generateIdentity } = await import('@peerbench/protocol');
  const { createSignalingServer } = await import('@peerbench/signaling-server');
  const { PeerMesh } = await import('@peerbench/mesh');
  const wrtc = (await import('@roamhq/wrtc')).default;
  const WebSocket = (await import('ws')).default;
  const server = createSignalingServer({ host: '127.0.0.1', port: 0, shutdownGraceMs: 0 });
  await server.start();
  const meshes: InstanceType<typeof PeerMesh>[] = [];
  for (let i = 0; i < 3; i++) {
    const mesh = new PeerMesh({
      signalingUrl: server.url,
      room: 'peer-bench',
      identity: await generateIdentity(),
      wrtc,
      WebSocket: WebSocket as unknown as ConstructorParameters<typeof PeerMesh>[0]['WebSocket'],
    });
    await mesh.start();
    meshes.push(mesh);
  }
  const t0 = Date.now();
  while (!meshes.every((m) => m.connectedPeers().length === 2)) {
    if (Date.now() - t0 > 30_000) throw new Error('WebRTC mesh of 3 did not connect within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    nets: meshes.map((m) => new MeshExpertNetwork(m, m.peerId)),
    close: async () => {
      await Promise.all(meshes.map((m) => m.stop()));
      await server.stop();
    },
  };
}

async function main() {
  const backend = await selectBackend({ force: 'wasm' });
  log(
    `backend ${backend.chosen}, batch ${BATCH}, d ${MODEL.representationSize}, ${MEASURED_STEPS} steps each`,
  );

  const solo = new Trainer(await task([0, 1, 2], 1), 'solo', null, MODEL, {
    ...DEFAULT_STEP_OPTIONS,
    batchSize: BATCH,
  });
  const soloSum = new Trainer(
    await task([0, 1, 2], 1),
    'solo-sum',
    null,
    { ...MODEL, combine: 'sum' },
    {
      ...DEFAULT_STEP_OPTIONS,
      batchSize: BATCH,
    },
  );
  const hub = new InMemoryHub();
  const memory = await networked(['a', 'b', 'c'].map((id) => hub.join(id)));
  let webrtc: Setup | null = null;
  let closeWebrtc: (() => Promise<void>) | null = null;
  let webrtcError: string | null = null;
  try {
    const w = await webrtcNets();
    closeWebrtc = w.close;
    webrtc = await networked(w.nets);
  } catch (err) {
    webrtcError = err instanceof Error ? err.message : String(err);
    log(`webrtc skipped: ${webrtcError}`);
  }
  const runs: Array<[string, Trainer, WireDtype]> = [
    ['isolated', solo, 'fp32'],
    ['isolated-sum', soloSum, 'fp32'],
    ['in-memory', memory.a, 'fp32'],
  ];
  if (webrtc) runs.push(['webrtc', webrtc.a, 'fp32'], ['webrtc-fp16', webrtc.a, 'fp16']);
  for (let s = 0; s < WARMUP_STEPS; s++) for (const [, t] of runs) await t.step();
  // Interleaved, so load on a shared machine hits every variant alike.
  const samples = new Map(runs.map(([name]) => [name, { total: [], callerOnly: [] } as Samples]));
  for (let s = 0; s < MEASURED_STEPS; s++)
    for (const [name, t, dtype] of runs) await timeOne(t, samples.get(name)!, dtype);
  const isolated = summary(samples.get('isolated')!);
  const variant = (name: string, t: Trainer, bytes: Record<WireDtype, number>) => {
    const sm = summary(samples.get(name)!);
    log(
      `${name}: ${sm.medianMs.toFixed(1)} ms/step (median) vs isolated ${isolated.medianMs.toFixed(1)}: ` +
        `${(sm.medianMs / isolated.medianMs).toFixed(2)}×, ${(sm.callerOnlyMedianMs / isolated.medianMs).toFixed(2)}× without the experts' serving time; ` +
        `forward bytes/step fp32 ${bytes.fp32.toFixed(0)}, fp16 ${bytes.fp16.toFixed(0)}`,
    );
    return {
      stepMs: sm,
      ratioVsIsolated: sm.medianMs / isolated.medianMs,
      callerOnlyRatioVsIsolated: sm.callerOnlyMedianMs / isolated.medianMs,
      forwardBytesPerStep: bytes,
      acceptedShare: t.answers.accepted / Math.max(1, t.answers.requested),
    };
  };
  const isolatedSum = summary(samples.get('isolated-sum')!);
  log(
    `isolated step, G(x) concat ${isolated.medianMs.toFixed(1)} ms vs sum ${isolatedSum.medianMs.toFixed(1)} ms (median): ` +
      `${(isolated.medianMs / isolatedSum.medianMs).toFixed(2)}×`,
  );
  // Held-out evaluation (500 rows): offline through stand-ins vs live over the hub.
  const evalOffline: number[] = [];
  const evalLive: number[] = [];
  const evalAblated: number[] = [];
  await memory.a.evaluateLive();
  for (let r = 0; r < 5; r++) {
    let t0 = performance.now();
    await memory.a.evaluate();
    evalOffline.push(performance.now() - t0);
    t0 = performance.now();
    await memory.a.evaluateLive();
    evalLive.push(performance.now() - t0);
    t0 = performance.now();
    await memory.a.evaluateLive({ ablate: 'b' });
    evalAblated.push(performance.now() - t0);
  }
  const evaluation = {
    rows: memory.a.task.evalSet().size,
    offlineMedianMs: median(evalOffline),
    liveInMemoryMedianMs: median(evalLive),
    liveAblatedInMemoryMedianMs: median(evalAblated),
    liveVsOfflineRatio: median(evalLive) / median(evalOffline),
  };
  log(
    `evaluation of ${evaluation.rows} rows: offline ${evaluation.offlineMedianMs.toFixed(1)} ms, live ${evaluation.liveInMemoryMedianMs.toFixed(1)} ms, ` +
      `live with one expert ablated ${evaluation.liveAblatedInMemoryMedianMs.toFixed(1)} ms (median of 5)`,
  );
  const memoryResult = variant('in-memory', memory.a, await bytesPerStep(memory.a));
  const webrtcBytes = webrtc ? await bytesPerStep(webrtc.a) : null;
  const webrtcResult =
    webrtc && webrtcBytes ? variant('webrtc', webrtc.a, webrtcBytes) : { error: webrtcError };
  const webrtcFp16Result =
    webrtc && webrtcBytes ? variant('webrtc-fp16', webrtc.a, webrtcBytes) : { error: webrtcError };

  const result = {
    backend: backend.chosen,
    batchSize: BATCH,
    representationSize: MODEL.representationSize,
    remoteExperts: 2,
    measuredSteps: MEASURED_STEPS,
    isolatedStepMs: isolated,
    /** The same isolated step with G(x) = Σ g_j f_j (head input d) instead of the concatenation (N·d). */
    isolatedSumStepMs: isolatedSum,
    concatVsSumIsolatedRatio: isolated.medianMs / isolatedSum.medianMs,
    evaluation,
    inMemory: memoryResult,
    webrtc: webrtcResult,
    /** The same WebRTC setup with fp16 requests and answers (half the bytes). */
    webrtcFp16: webrtcFp16Result,
    targetRatio: 2,
    tensorsAtEnd: 0,
    note: 'All peers share one process: the remote experts’ forward/backward compute is serialised with the caller’s step here. callerOnly subtracts the time the experts spent serving during the step (what the caller would pay if they ran elsewhere). Variants are measured interleaved, step by step.',
  };
  solo.dispose();
  soloSum.dispose();
  memory.dispose();
  webrtc?.dispose();
  await closeWebrtc?.();
  result.tensorsAtEnd = tf.memory().numTensors;
  writeResult('peer.json', result);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
