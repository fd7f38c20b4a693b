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
 *   one process);
 * - the step cost of the distillation queries (distillation-queries.ts):
 *   the same depth-1 step with the queries off (`callerDistillRows` 0), also
 *   interleaved; a query round runs every `distillQueryEverySteps` (2) steps, so
 *   the mean step carries its amortised cost and the distillation steps
 *   alone carry it whole;
 * - the step cost of the student's schedule (g-student.ts, student-replay.ts):
 *   today's default, a fit on every step replaying older answers, against
 *   the schedule before it (a fit every 2nd step on the fresh rows alone),
 *   both at depth 0, interleaved.
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

type Config = 'depth0' | 'depth1' | 'depth1NoQueries' | 'depth0NoReplay';
interface ConfigOptions {
  depth: 0 | 1;
  callerDistillRows: number;
  /** Model options beside the defaults (the student's schedule and memory). */
  student?: Partial<typeof DEFAULT_MODEL_OPTIONS>;
}
const CONFIGS: Record<Config, ConfigOptions> = {
  depth0: { depth: 0, callerDistillRows: DEFAULT_MODEL_OPTIONS.callerDistillRows ?? 0 },
  depth1: { depth: 1, callerDistillRows: DEFAULT_MODEL_OPTIONS.callerDistillRows ?? 0 },
  depth1NoQueries: { depth: 1, callerDistillRows: 0 },
  // The student's schedule before its replay memory: a fit every 2nd step, on the fresh rows alone.
  depth0NoReplay: {
    depth: 0,
    callerDistillRows: DEFAULT_MODEL_OPTIONS.callerDistillRows ?? 0,
    student: { distillEverySteps: 2, studentReplayRows: 0, studentReplaySample: 0 },
  },
};
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);

async function network({ depth, callerDistillRows, student }: ConfigOptions) {
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
      {
        ...DEFAULT_MODEL_OPTIONS,
        maxExperts: 3,
        topK: 3,
        seed: i + 1,
        answerDepth: depth,
        callerDistillRows,
        ...student,
      },
      { ...DEFAULT_STEP_OPTIONS, kMin: 2 },
    );
    const server = new ExpertServer(
      trainer.served(),
      () => 1,
      undefined,
      undefined,
      undefined,
      trainer.callerInputs,
    );
    net.serve(server);
    peers.push({ trainer, server });
  }
  return peers;
}

async function main() {
  const backend = await selectBackend({ force: 'wasm' });
  const loadAtStart = loadavg();
  const names = Object.keys(CONFIGS) as Config[];
  const nets = {} as Record<Config, Awaited<ReturnType<typeof network>>>;
  for (const name of names) nets[name] = await network(CONFIGS[name]);
  for (const name of names)
    for (let r = 0; r < TRAIN_ROUNDS; r++)
      for (const p of nets[name]) {
        await p.trainer.step();
        await p.trainer.settleBackwards();
      }
  const ready = nets.depth1[1]!.trainer.standIns;
  log(`depth-1 student ready for slots 1, 2: ${ready.ready(1)}, ${ready.ready(2)}`);
  const x = {
    shape: [SERVE_ROWS, 784],
    data: nets.depth0[0]!.trainer.task.evalSet().x.slice(0, SERVE_ROWS * 784),
  };
  const serve = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Config, number[]>;
  const step = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Config, number[]>;
  const distillStep = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Config, number[]>;
  for (let i = 0; i < MEASURED; i++)
    for (const name of names.map((_, j) => names[(i + j) % names.length]!)) {
      const t0 = performance.now();
      await nets[name][1]!.server.forward('p0', `bench-${name}-${i}`, x);
      serve[name].push(performance.now() - t0);
      const a = nets[name][0]!.trainer;
      const distills =
        a.stepCount % Math.max(1, a.model.distillQueryEverySteps ?? a.model.distillEverySteps) === 0;
      const t1 = performance.now();
      await a.step();
      const ms = performance.now() - t1;
      step[name].push(ms);
      if (distills) distillStep[name].push(ms);
      await a.settleBackwards();
    }
  const figures = (name: Config) => ({
    serveMedianMs: median(serve[name]),
    stepMedianMs: median(step[name]),
    stepMeanMs: mean(step[name]),
    distillationStepMedianMs: median(distillStep[name]),
    queries: { ...nets[name][0]!.trainer.distillation.stats },
  });
  const d0 = figures('depth0');
  const d1 = figures('depth1');
  const d1n = figures('depth1NoQueries');
  const d0old = figures('depth0NoReplay');
  const result = {
    createdAt: new Date().toISOString(),
    backend: backend.chosen,
    cpus: cpus().length,
    loadAverage: { atStart: loadAtStart, atEnd: loadavg() },
    model: 'DEFAULT_MODEL_OPTIONS, maxExperts 3, topK 3 (student of G: 2 blocks of d = 64, hidden 64)',
    serveRows: SERVE_ROWS,
    measured: MEASURED,
    callerDistillRows: CONFIGS.depth1.callerDistillRows,
    depth0: d0,
    depth1: d1,
    depth1NoQueries: d1n,
    depth0NoReplay: d0old,
    serveRatio: d1.serveMedianMs / d0.serveMedianMs,
    stepRatio: d1.stepMedianMs / d0.stepMedianMs,
    queryStepMeanRatio: d1.stepMeanMs / d1n.stepMeanMs,
    queryDistillationStepRatio: d1.distillationStepMedianMs / d1n.distillationStepMedianMs,
    replayStepMeanRatio: d0.stepMeanMs / d0old.stepMeanMs,
    targetServeRatio: 2,
    note: 'One process: the step includes B and C serving A (their depth-1 answers and the answers to the distillation queries included). Interleaved call by call, rotating the order.',
  };
  for (const p of names.flatMap((n) => nets[n])) {
    p.server.dispose();
    p.trainer.dispose();
  }
  log(
    `serve ${d0.serveMedianMs.toFixed(2)} → ${d1.serveMedianMs.toFixed(2)} ms (${result.serveRatio.toFixed(2)}×), step ${d0.stepMedianMs.toFixed(1)} → ${d1.stepMedianMs.toFixed(1)} ms (${result.stepRatio.toFixed(2)}×); queries: mean step ${d1n.stepMeanMs.toFixed(1)} → ${d1.stepMeanMs.toFixed(1)} ms (${result.queryStepMeanRatio.toFixed(2)}×), distillation steps ${result.queryDistillationStepRatio.toFixed(2)}×; student's replay: mean step ${d0old.stepMeanMs.toFixed(1)} → ${d0.stepMeanMs.toFixed(1)} ms (${result.replayStepMeanRatio.toFixed(2)}×); tensors left ${tf.memory().numTensors}`,
  );
  writeResult('peer-answer-depth.json', result);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
