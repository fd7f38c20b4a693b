/**
 * Training on one tfjs backend in the page, without the app around it: the
 * e2e suite uses it to check that WebGPU (the SwiftShader adapter in CI)
 * trains and keeps `tf.memory().numTensors` flat over many steps, with remote
 * experts answering over an in-memory network, and to measure step time per
 * backend side by side. Only in the e2e build (vite --mode e2e).
 */
import '../node-globals.js';
import { InMemoryHub } from '@peerbench/mesh';
import {
  type BackendName,
  DEFAULT_MODEL_OPTIONS,
  DEFAULT_STEP_OPTIONS,
  ExpertServer,
  loadMnistDigits,
  MnistTask,
  type ModelOptions,
  selectBackend,
  skewedClassMix,
  Trainer,
} from '@peerbench/peer';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);

export interface TrainRunOptions {
  backend: BackendName;
  /** Trainers in one in-memory room, each serving its encoder to the others. */
  peers: number;
  /** Steps not counted (first-use kernel compilation, backend state). */
  warmupSteps: number;
  steps: number;
  batchSize: number;
  /** Smaller model than the app's (the memory run makes many steps). */
  small: boolean;
}

export interface TrainRunResult {
  backend: string;
  stepsPerPeer: number;
  /** numTensors after the warm-up, and after the counted steps and an evaluation. */
  numTensorsBase: number;
  numTensorsEnd: number;
  /** Mean loss of the first and last 10 counted steps of peer 0. */
  lossFirst: number;
  lossLast: number;
  /** Median wall time of one round (every peer one step), in ms. */
  medianRoundMs: number;
  remoteAnswers: number;
  accuracy: number;
}

const SMALL: ModelOptions = {
  ...DEFAULT_MODEL_OPTIONS,
  representationSize: 32,
  encoderHidden: 64,
  headHidden: 32,
  maxExperts: 4,
  standInHidden: 32,
  standInMinSteps: 3,
};

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

async function run(opts: TrainRunOptions): Promise<TrainRunResult> {
  const report = await selectBackend({
    force: opts.backend,
    wasmPaths: `${import.meta.env.BASE_URL}tfjs-wasm/`,
  });
  const digits = await loadMnistDigits();
  const hub = new InMemoryHub();
  const trainers: Trainer[] = [];
  const servers: ExpertServer[] = [];
  for (let i = 0; i < opts.peers; i++) {
    const net = hub.join(`p${i}`);
    const task = await MnistTask.create({
      digits,
      classMix: skewedClassMix([i, i + 3], 0.9),
      shardSize: 300,
      evalPerClass: 20,
      seed: i + 1,
    });
    const t = new Trainer(
      task,
      `p${i}`,
      net,
      { ...(opts.small ? SMALL : DEFAULT_MODEL_OPTIONS), seed: i + 1 },
      {
        ...DEFAULT_STEP_OPTIONS,
        batchSize: opts.batchSize,
      },
    );
    const server = new ExpertServer(t.encoder, () => 1);
    net.serve(server);
    trainers.push(t);
    servers.push(server);
  }
  const round = () => Promise.all(trainers.map((t) => t.step()));
  try {
    for (let s = 0; s < opts.warmupSteps; s++) await round();
    await trainers[0]!.evaluate();
    await new Promise((r) => setTimeout(r, 20));
    const numTensorsBase = tf.memory().numTensors;
    const losses: number[] = [];
    const roundMs: number[] = [];
    for (let s = 0; s < opts.steps; s++) {
      const t0 = performance.now();
      const results = await round();
      roundMs.push(performance.now() - t0);
      losses.push(results[0]!.loss);
    }
    const ev = await trainers[0]!.evaluate();
    // Backwards are sent without waiting: let them land before counting.
    await new Promise((r) => setTimeout(r, 50));
    const out: TrainRunResult = {
      backend: report.chosen,
      stepsPerPeer: opts.steps,
      numTensorsBase,
      numTensorsEnd: tf.memory().numTensors,
      lossFirst: mean(losses.slice(0, 10)),
      lossLast: mean(losses.slice(-10)),
      medianRoundMs: median(roundMs),
      remoteAnswers: trainers.reduce((n, t) => n + t.answers.accepted, 0),
      accuracy: ev.accuracy,
    };
    document.getElementById('out')!.textContent = JSON.stringify(out, null, 1);
    return out;
  } finally {
    for (const t of trainers) t.dispose();
    for (const s of servers) s.dispose();
  }
}

declare global {
  interface Window {
    peerbenchTrain?: { run(opts: TrainRunOptions): Promise<TrainRunResult> };
  }
}

window.peerbenchTrain = { run };
