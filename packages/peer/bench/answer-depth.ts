/**
 * Answer-depth benchmark (issue 16): what answering at depth 1 (f_i(Ĝ(x)),
 * the encoder plus the student of G, composition.ts) costs against today's
 * depth-0 answer (the encoder alone), side by side in one run:
 *
 * - serving: `ExpertServer.forward` of 32 rows (a routed share of a batch)
 *   on the same trained weights at depth 0 and 1, interleaved call by call;
 * - a training step of peer A with two remote experts B and C (in-memory hub,
 *   top-k 3 so both are asked for every row), all three at depth 0 vs all at
 *   depth 1, interleaved step by step (the experts' serving is in the step:
 *   one process).
 *
 * The default model of packages/peer (d = 64, encoder 784-128-64, student
 * hidden 64) with maxExperts 3 (so the student has 2 blocks). Records the
 * load average: the machine is shared. Writes
 * $PEERBENCH_BENCH_DIR/peer-answer-depth.json (default <repo>/bench-results/).
 */
import { cpus, loadavg } from 'node:os';
import { InMemoryHub } from '@peerbench/mesh';
import { benchEntry } from '@peerbench/protocol/bench-entry';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend.js';
import { ExpertServer } from '../src/expert-server.js';
import { loadMnistDigits, MnistTask, skewedClassMix } from '../src/mnist-task.js';
import { Trainer } from '../src/trainer.js';
import { DEFAULT_MODEL_OPTIONS, DEFAULT_STEP_OPTIONS } from '../src/trainer-options.js';

const { log, writeResult } = benchEntry(import.meta.url);

const TRAIN_ROUNDS = 30;
const MEASURED = Number(process.env.PEER_BENCH_STEPS ?? 100);
const SERVE_ROWS = 32;
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

async function network(depth: 0 | 1) {
  const hub = new InMemoryHub();
  const digits = await loadMnistDigits();
  const peers = [];
  for (let i = 0; i < 3; i++) {
    const net = hub.join(`p${i}`);
    const task = await MnistTask.create({
      digits,
      classMix: skewedClassMix([3 * i, 3 * i + 1], 0.9),
      shardSize: 500,
      seed: i + 1,
    });
    const trainer = new Trainer(
      task,
      `p${i}`,
      net,
      { ...DEFAULT_MODEL_OPTIONS, maxExperts: 3, topK: 3, seed: i + 1, answerDepth: depth },
      { ...DEFAULT_STEP_OPTIONS, kMin: 2 },
    );
    const server = new ExpertServer(trainer.served(), () => 1);
    net.serve(server);
    peers.push({ trainer, server });
  }
  return peers;
}

async function main() {
  const backend = await selectBackend({ force: 'wasm' });
  const loadAtStart = loadavg();
  const nets = { 0: await network(0), 1: await network(1) };
  for (const depth of [0, 1] as const)
    for (let r = 0; r < TRAIN_ROUNDS; r++)
      for (const p of nets[depth]) {
        await p.trainer.step();
        await p.trainer.settleBackwards();
      }
  const ready = nets[1][1]!.trainer.standIns;
  log(`depth-1 student ready for slots 1, 2: ${ready.ready(1)}, ${ready.ready(2)}`);
  const x = {
    shape: [SERVE_ROWS, 784],
    data: nets[0][0]!.trainer.task.evalSet().x.slice(0, SERVE_ROWS * 784),
  };
  const serve: Record<0 | 1, number[]> = { 0: [], 1: [] };
  const step: Record<0 | 1, number[]> = { 0: [], 1: [] };
  for (let i = 0; i < MEASURED; i++)
    for (const depth of i % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) {
      const t0 = performance.now();
      await nets[depth][1]!.server.forward('p0', `bench-${depth}-${i}`, x);
      serve[depth].push(performance.now() - t0);
      const t1 = performance.now();
      await nets[depth][0]!.trainer.step();
      step[depth].push(performance.now() - t1);
      await nets[depth][0]!.trainer.settleBackwards();
    }
  const figures = (depth: 0 | 1) => ({
    serveMedianMs: median(serve[depth]),
    stepMedianMs: median(step[depth]),
  });
  const d0 = figures(0);
  const d1 = figures(1);
  const result = {
    createdAt: new Date().toISOString(),
    backend: backend.chosen,
    cpus: cpus().length,
    loadAverage: { atStart: loadAtStart, atEnd: loadavg() },
    model: 'DEFAULT_MODEL_OPTIONS, maxExperts 3, topK 3 (student of G: 2 blocks of d = 64, hidden 64)',
    serveRows: SERVE_ROWS,
    measured: MEASURED,
    depth0: d0,
    depth1: d1,
    serveRatio: d1.serveMedianMs / d0.serveMedianMs,
    stepRatio: d1.stepMedianMs / d0.stepMedianMs,
    targetServeRatio: 2,
    note: 'One process: the step includes B and C serving A (their depth-1 answers included). Interleaved call by call.',
  };
  for (const p of [...nets[0], ...nets[1]]) {
    p.server.dispose();
    p.trainer.dispose();
  }
  log(
    `serve ${d0.serveMedianMs.toFixed(2)} → ${d1.serveMedianMs.toFixed(2)} ms (${result.serveRatio.toFixed(2)}×), step ${d0.stepMedianMs.toFixed(1)} → ${d1.stepMedianMs.toFixed(1)} ms (${result.stepRatio.toFixed(2)}×); tensors left ${tf.memory().numTensors}`,
  );
  writeResult('peer-answer-depth.json', result);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
