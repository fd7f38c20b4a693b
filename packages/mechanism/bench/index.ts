/**
 * Mechanism benchmark (issue 3): solver steps per second at several n, one
 * full n = 32 trial, the Fig 4 sweep, and the optimised solver side by side
 * with the naive reference (bench/naive.ts) in the same run.
 * Writes $PEERBENCH_BENCH_DIR/mechanism.json (default <repo>/bench-results).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWorld, DEFAULT_SETTINGS, referenceMask, runFig4, trialSeed } from '../src/experiment.js';
import { NashSolver } from '../src/nash.js';
import type { PayoffModel } from '../src/payoff.js';
import { type Fig4SweepOptions, runFig4Sweep } from '../src/sweep.js';
import { naiveStep } from './naive.js';

// `--help` answers without running the benchmark (the README entry-point test runs it).
if (process.argv.includes('--help')) {
  console.log(
    'usage: pnpm --filter @peerbench/mechanism bench\n  solver steps/s at several n, one n = 32 trial, the Fig 4 sweep, optimised vs naive solver → $PEERBENCH_BENCH_DIR/mechanism.json',
  );
  process.exit(0);
}

const here = dirname(fileURLToPath(import.meta.url));
const outDir = process.env.PEERBENCH_BENCH_DIR ?? resolve(here, '..', '..', '..', 'bench-results');
const log = (s: string) => process.stderr.write(`${s}\n`);
const loadAtStart = loadavg();

interface Timing {
  wallMs: number;
  cpuMs: number;
}

function time<T>(f: () => T): { value: T } & Timing {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = f();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return { value, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function modelFor(n: number): { model: PayoffModel; W0: Float64Array } {
  const world = createWorld(n, trialSeed(1, 0));
  return {
    model: {
      n,
      alpha: 10,
      tau: 1,
      temperature: DEFAULT_SETTINGS.temperature,
      stake: world.stake,
      hessians: world.hessians,
      referenceMask: referenceMask(world, DEFAULT_SETTINGS),
    },
    W0: world.W0,
  };
}

/** Steps for roughly `budgetMadds` multiply-adds (the O(n³) part). */
const stepsFor = (n: number, budgetMadds: number) => Math.max(10, Math.round(budgetMadds / n ** 3));

const sizes = [16, 32, 64, 128];
const stepsPerSecond: Array<Record<string, number>> = [];
for (const n of sizes) {
  const { model, W0 } = modelFor(n);
  const solver = new NashSolver(n);
  solver.solve(model, W0, { maxSteps: 50, epsilon: 0 }); // warm up the JIT
  const steps = stepsFor(n, 4e8);
  const fast = time(() => solver.solve(model, W0, { maxSteps: steps, epsilon: 0 }));
  // naive: fewer steps (it is slower); same start, so results are comparable
  const naiveSteps = Math.max(10, Math.round(steps / 8));
  let W: Float64Array = Float64Array.from(W0);
  for (let s = 0; s < 5; s++) naiveStep(model, W, 0.005); // warm-up
  const naive = time(() => {
    for (let s = 0; s < naiveSteps; s++) W = naiveStep(model, W, 0.005).W;
    return W;
  });
  const check = solver.solve(model, W0, { maxSteps: naiveSteps, epsilon: 0 }).W;
  let maxAbsDiff = 0;
  for (let k = 0; k < check.length; k++)
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(check[k]! - naive.value[k]!));
  const row = {
    n,
    steps,
    stepsPerSecond: Math.round((steps / fast.wallMs) * 1000),
    stepsPerCpuSecond: Math.round((steps / fast.cpuMs) * 1000),
    naiveSteps,
    naiveStepsPerSecond: Math.round((naiveSteps / naive.wallMs) * 1000),
    naiveStepsPerCpuSecond: Math.round((naiveSteps / naive.cpuMs) * 1000),
    speedupVsNaive: Number((naive.cpuMs / naiveSteps / (fast.cpuMs / steps)).toFixed(2)),
    maxAbsDiffVsNaive: maxAbsDiff,
  };
  stepsPerSecond.push(row);
  log(
    `n=${n}: ${row.stepsPerSecond} steps/s (${row.stepsPerCpuSecond} per CPU s), naive ${row.naiveStepsPerSecond} steps/s, speed-up ${row.speedupVsNaive}x, max |diff| ${maxAbsDiff.toExponential(1)}`,
  );
}

// One full trial at n = 32 with the paper's 1000·n cap (ε = 0 forces all 32,000 steps).
const n32 = modelFor(32);
const solver32 = new NashSolver(32);
const trial = time(() => solver32.solve(n32.model, n32.W0, { maxSteps: 32_000, epsilon: 0 }));
log(
  `full n=32 trial (32000 steps): ${(trial.wallMs / 1000).toFixed(2)} s wall, ${(trial.cpuMs / 1000).toFixed(2)} s CPU`,
);

const sweep = time(() => runFig4({ n: 16, trials: 10, ratios: [1, 10, 25, 50], seed: 1 }));
const sweepSteps = sweep.value.ratios.reduce((a, r) => a + r.meanSteps * r.trials.length, 0);
log(
  `fig4 sweep (n=16, 10 trials, ratios 1,10,25,50): ${(sweep.wallMs / 1000).toFixed(2)} s wall, ${(sweep.cpuMs / 1000).toFixed(2)} s CPU, ${sweepSteps} steps`,
);

// The n = 32 sweep of issue 13 (10 trials, ratios 1,10,25,50), side by side in
// this run: the old single-trial path (runFig4: one NashSolver per trial, one
// thread), the batched path in one thread with the JS product kernel and with
// the WebAssembly SIMD one, and the WebAssembly path on two workers with one
// job per world (the default) and one job per (world, ratio).
// All must give the same result, bit for bit.
const SWEEP_TRIALS = Number(process.env.MECHANISM_BENCH_SWEEP_TRIALS ?? 10);
const sweep32Options = { n: 32, trials: SWEEP_TRIALS, ratios: [1, 10, 25, 50], seed: 1 };

async function timeAsync<T>(f: () => Promise<T>): Promise<{ value: T } & Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await f();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return { value, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}
// name → sweep options (null: the old single-trial path, runFig4); workers 0 and runFig4 run in this thread.
const sweepPaths: Array<[string, Partial<Fig4SweepOptions> | null]> = [
  ['oldSingleTrialPath', null],
  ['batchedJsKernelOneThread', { workers: 0, kernel: 'js' }],
  ['batchedWasmOneThread', { workers: 0 }],
  ['wasmTwoWorkersWorldJobs', { workers: 2 }],
  ['wasmTwoWorkersLaneJobs', { workers: 2, jobs: 'lane' }],
];
const sweepTimings: Record<string, Record<string, number | number[]>> = {};
let reference: string | null = null;
let sweepIdentical = true;
let sweepLaneSteps = 0;
for (const [name, opts] of sweepPaths) {
  const loadBefore = loadavg()[0]!;
  const t = await timeAsync(async () =>
    opts ? runFig4Sweep({ ...sweep32Options, ...opts }) : runFig4(sweep32Options),
  );
  const json = JSON.stringify(t.value);
  reference ??= json;
  sweepIdentical &&= json === reference;
  sweepLaneSteps = t.value.ratios.reduce((a, r) => a + r.meanSteps * r.trials.length, 0);
  const row: Record<string, number | number[]> = {
    wallSeconds: Number((t.wallMs / 1000).toFixed(3)),
    loadAverage1m: [loadBefore, loadavg()[0]!],
  };
  // Worker CPU is not in this process's figure: CPU per lane-step only for the in-thread paths.
  if (!opts || opts.workers === 0) {
    row.cpuSeconds = Number((t.cpuMs / 1000).toFixed(3));
    row.cpuMicrosecondsPerLaneStep = Number(((t.cpuMs * 1000) / sweepLaneSteps).toFixed(2));
  }
  sweepTimings[name] = row;
  log(`n=32 sweep, ${name}: ${JSON.stringify(row)}`);
}
const wall = (name: string) => sweepTimings[name]!.wallSeconds as number;
const speedups = Object.fromEntries(
  sweepPaths.map(([name]) => [name, Number((wall('oldSingleTrialPath') / wall(name)).toFixed(2))]),
);
log(`  wall speed-up vs the old path: ${JSON.stringify(speedups)}; identical results: ${sweepIdentical}`);

const result = {
  package: '@peerbench/mechanism',
  date: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadAverage1m: loadavg()[0],
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadavg(),
    node: process.version,
  },
  note: 'wall times depend on machine load (see loadAverage1m); CPU times are this process only',
  stepsPerSecond,
  fullTrialN32: {
    steps: trial.value.steps,
    wallSeconds: Number((trial.wallMs / 1000).toFixed(3)),
    cpuSeconds: Number((trial.cpuMs / 1000).toFixed(3)),
    targetSeconds: 1,
  },
  fig4Sweep: {
    n: 16,
    trials: 10,
    ratios: [1, 10, 25, 50],
    totalSteps: sweepSteps,
    wallSeconds: Number((sweep.wallMs / 1000).toFixed(3)),
    cpuSeconds: Number((sweep.cpuMs / 1000).toFixed(3)),
    targetSeconds: 15,
  },
  fig4SweepN32: {
    ...sweep32Options,
    stoppingNorm: DEFAULT_SETTINGS.stoppingNorm,
    epsilon: DEFAULT_SETTINGS.epsilon,
    laneSteps: sweepLaneSteps,
    ...sweepTimings,
    wallSpeedupVsOldPath: speedups,
    identicalResults: sweepIdentical,
    targetSeconds: 12,
    loadAverage1mAfter: loadavg()[0],
  },
};
mkdirSync(outDir, { recursive: true });
const file = join(outDir, 'mechanism.json');
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
log(`wrote ${file}`);
