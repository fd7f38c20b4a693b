/**
 * `pnpm swarm chain`: does knowledge travel along a chain (issue 16)?
 *
 * Three real Peers A – B – C on the in-memory hub with a per-pair allow list
 * (topology.ts): A and C are never linked, B neighbours both. A's task is
 * digits 0-5, but it holds only a handful of examples of the target digits
 * 4 and 5; C holds many of exactly those; B only a few. A's held-out set is
 * its task, balanced (the last 20 % of every digit, never in a shard). The
 * same seeds run once with every Peer answering at depth 0 (its encoder) and
 * once at depth 1 (f_i(Ĝ(x)): B's answer carries what B's student of G
 * learned from C). A's held-out accuracy, on its task and on the target
 * digits alone, live and offline, per seed, with means and 95 % intervals
 * of the paired difference. Flags vary A's count of target digits (still a
 * handful) and how P of a depth-1 answer starts (composition.ts), and set up
 * two controls: the triangle (A – C linked too: what C's own answers can
 * teach A's head at most) and frozen remote gradients (C cannot shape B's
 * encoder, so C's knowledge can reach A only through B's depth-1 answer).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InMemoryHub } from '@peerbench/mesh';
import {
  type Batch,
  type CompositionInit,
  loadMnistDigits,
  type MnistDigits,
  MnistTask,
  Peer,
} from '@peerbench/peer';
import { either, UsageError } from './args.js';
import { type Interval, meanInterval } from './fidelity.js';
import { SWARM_MODEL, swarmIdentity } from './participants.js';
import { AllowedPairs, restrictedNetwork } from './topology.js';

/** A's task and the digits of it A barely holds. */
export const CHAIN_TASK_DIGITS = [0, 1, 2, 3, 4, 5];
export const CHAIN_TARGET_DIGITS = [4, 5];

/** What varies between chain set-ups (flags; defaults are session 1's set-up). */
export interface ChainSetup {
  /** Examples of the target digits (together) in A's 200: a handful. Default 6. */
  aTarget: number;
  /** How P of a depth-1 answer starts (composition.ts). Default 'zero', the Peer's default. */
  pInit: CompositionInit;
  /**
   * 'chain' (default): A – B – C, A and C never linked. 'triangle': A – C linked
   * too, the ceiling of what C's own answers can teach A's head (a control, not
   * the experiment).
   */
  topology: 'chain' | 'triangle';
  /**
   * 'on' (default): callers' gradients train the expert they call (Adam, the
   * Peer's default). 'frozen': every backward is accepted and its input kept
   * for the student of G (caller-inputs.ts), but the step is SGD at rate 0, so
   * no caller moves anyone's weights. Then C's knowledge cannot reach A
   * through B's encoder, only through B's depth-1 answer (a control that
   * separates the two paths).
   */
  remoteGradients: 'on' | 'frozen';
}

export const DEFAULT_CHAIN_SETUP: ChainSetup = {
  aTarget: 6,
  pInit: 'zero',
  topology: 'chain',
  remoteGradients: 'on',
};

/** The expert-server options of a chain peer for `remoteGradients`. */
export function chainServerOptions(remoteGradients: ChainSetup['remoteGradients']) {
  return {
    // No ledger here, so no blocks to refill the callers' backward budget: without this it
    // would refill every 2 s and refuse most of A's gradients (the swarm's 16 per 10-step block never binds).
    maxBackwardsPerCallerPerBlock: Number.MAX_SAFE_INTEGER,
    ...(remoteGradients === 'frozen' ? { remoteOptimizer: 'sgd' as const, remoteLearningRate: 0 } : {}),
  };
}

/** At most this many target-digit examples in A's shard still count as "a handful" here. */
export const CHAIN_MAX_A_TARGET = 24;

export interface ChainOptions extends ChainSetup {
  seeds: number[];
  steps: number;
  out: string;
  quiet: boolean;
}

export interface ChainRun {
  seed: number;
  depth: 0 | 1;
  /** A's held-out accuracy on its task (live, offline) and on the target digits only. */
  task: number;
  target: number;
  taskOffline: number;
  targetOffline: number;
  /** Examples of the target digits (together) in A's, B's and C's shards. */
  targetExamples: { A: number; B: number; C: number };
  /** How many peers A could link with (1 in the chain, 2 in the triangle). */
  aLinks: number;
  /** Callers' backwards B applied (at rate 0 with frozen remote gradients). */
  backwardsAtB: number;
  wallSeconds: number;
}

const few = (w: number, digits: number[], rest: number) =>
  Array.from({ length: 10 }, (_, c) => (CHAIN_TARGET_DIGITS.includes(c) ? w : digits.includes(c) ? 1 : rest));

const A_SIZE = 200;

/** A's class mix with `aTarget` examples of the target digits (split evenly) among its 200 of digits 0-5. */
export function chainMixA(aTarget: number): number[] {
  const other = CHAIN_TASK_DIGITS.length - CHAIN_TARGET_DIGITS.length;
  return Array.from({ length: 10 }, (_, c) =>
    CHAIN_TARGET_DIGITS.includes(c)
      ? aTarget / CHAIN_TARGET_DIGITS.length
      : CHAIN_TASK_DIGITS.includes(c)
        ? (A_SIZE - aTarget) / other
        : 0,
  );
}

/** Shard size and class mix of A, B and C (see the file comment; A's with the default set-up). */
export const CHAIN_SHARDS = {
  // 3 examples of each target digit among 200 of digits 0-5.
  A: { size: A_SIZE, mix: chainMixA(DEFAULT_CHAIN_SETUP.aTarget) },
  // ≈ 3 of each target digit among 300 of every digit.
  B: { size: 300, mix: few(0.1, CHAIN_TASK_DIGITS, 1) },
  // 80 % of 400 on the target digits.
  C: { size: 400, mix: Array.from({ length: 10 }, (_, c) => (CHAIN_TARGET_DIGITS.includes(c) ? 8 : 0.25)) },
} as const;

/** The rows of `batch` whose label is one of `digits`. */
export function rowsOfDigits(batch: Batch, digits: readonly number[], inputSize: number): Batch {
  const classes = batch.y.length / batch.size;
  const keep: number[] = [];
  for (let r = 0; r < batch.size; r++) {
    const label = batch.y.subarray(r * classes, (r + 1) * classes).indexOf(1);
    if (digits.includes(label)) keep.push(r);
  }
  const x = new Float32Array(keep.length * inputSize);
  const y = new Float32Array(keep.length * classes);
  keep.forEach((r, i) => {
    x.set(batch.x.subarray(r * inputSize, (r + 1) * inputSize), i * inputSize);
    y.set(batch.y.subarray(r * classes, (r + 1) * classes), i * classes);
  });
  return { x, y, size: keep.length };
}

/** One chain run: three Peers, `steps` lockstep steps, A evaluated at the end. */
export async function runChain(
  digits: MnistDigits,
  seed: number,
  depth: 0 | 1,
  steps: number,
  setup: ChainSetup = DEFAULT_CHAIN_SETUP,
): Promise<ChainRun> {
  const t0 = performance.now();
  const hub = new InMemoryHub();
  const names = ['A', 'B', 'C'] as const;
  const identities = await Promise.all(names.map((_, i) => swarmIdentity(seed, i)));
  const [a, b, c] = identities.map((id) => id.peerId) as [string, string, string];
  const pairs = new AllowedPairs([
    [a, b],
    [b, c],
    ...(setup.topology === 'triangle' ? [[a, c] as const] : []),
  ]);
  const peers: Peer[] = [];
  const tasks: MnistTask[] = [];
  try {
    for (let i = 0; i < names.length; i++) {
      const shard = CHAIN_SHARDS[names[i]!];
      const task = await MnistTask.create({
        digits,
        shardSize: shard.size,
        classMix: i === 0 ? chainMixA(setup.aTarget) : [...shard.mix],
        evalPerClass: 50,
        validationSize: 10,
        seed: seed * 100 + i,
      });
      tasks.push(task);
      const peer = await Peer.create({
        identity: identities[i]!,
        task,
        network: restrictedNetwork(hub.join(identities[i]!.peerId), pairs),
        backend: false,
        autoRun: false,
        evalEverySteps: 0,
        saveEverySteps: 0,
        scoreEverySteps: 0,
        pingEveryMs: 0,
        server: chainServerOptions(setup.remoteGradients),
        model: {
          ...SWARM_MODEL,
          representationSize: 32,
          maxExperts: 3,
          topK: 2,
          learningRate: 0.002,
          seed: seed * 1000 + i,
          answerDepth: depth,
          compositionInit: setup.pInit,
        },
        // Every answer comes at once in memory: wait for all (a seeded run does not depend on load).
        step: { kMin: Number.MAX_SAFE_INTEGER },
      });
      await peer.start();
      peers.push(peer);
    }
    for (let s = 0; s < steps; s++)
      for (const peer of peers) {
        await peer.step();
        await peer.settleBackwards();
      }
    const A = peers[0]!;
    const trainer = A.runtime!;
    const inputSize = trainer.task.inputSize;
    const heldOut = rowsOfDigits(trainer.task.evalSet(), CHAIN_TASK_DIGITS, inputSize);
    const target = rowsOfDigits(heldOut, CHAIN_TARGET_DIGITS, inputSize);
    const count = (t: MnistTask) => CHAIN_TARGET_DIGITS.reduce((n, d) => n + (t.shardCounts[d] ?? 0), 0);
    return {
      seed,
      depth,
      task: (await A.evaluateLive({ data: heldOut })).accuracy,
      target: (await A.evaluateLive({ data: target })).accuracy,
      taskOffline: (await trainer.evaluate(heldOut)).accuracy,
      targetOffline: (await trainer.evaluate(target)).accuracy,
      targetExamples: { A: count(tasks[0]!), B: count(tasks[1]!), C: count(tasks[2]!) },
      aLinks: [b, c].filter((id) => pairs.allows(a, id)).length,
      backwardsAtB: peers[1]!.expertServer?.stats.backwardsApplied ?? 0,
      wallSeconds: (performance.now() - t0) / 1000,
    };
  } finally {
    for (const p of peers) await p.stop().catch(() => undefined);
    for (const id of hub.ids()) hub.leave(id);
  }
}

export interface ChainResult {
  options: Omit<ChainOptions, 'out' | 'quiet'>;
  runs: ChainRun[];
  /** Per depth, mean and 95 % interval over the seeds; `gain` is depth 1 − depth 0 per seed (paired). */
  summary: Record<
    'depth0' | 'depth1' | 'gain',
    Record<'task' | 'target' | 'taskOffline' | 'targetOffline', Interval | null>
  >;
}

const METRICS = ['task', 'target', 'taskOffline', 'targetOffline'] as const;

export function summarizeChain(opts: ChainOptions, runs: ChainRun[]): ChainResult {
  const at = (depth: 0 | 1) => runs.filter((r) => r.depth === depth);
  const of = (rs: ChainRun[], m: (typeof METRICS)[number]) => meanInterval(rs.map((r) => r[m]));
  const gain = (m: (typeof METRICS)[number]) =>
    meanInterval(
      at(1).flatMap((r1) => {
        const r0 = at(0).find((r) => r.seed === r1.seed);
        return r0 ? [r1[m] - r0[m]] : [];
      }),
    );
  const table = (f: (m: (typeof METRICS)[number]) => Interval | null) =>
    Object.fromEntries(METRICS.map((m) => [m, f(m)])) as Record<(typeof METRICS)[number], Interval | null>;
  return {
    options: {
      seeds: opts.seeds,
      steps: opts.steps,
      aTarget: opts.aTarget,
      pInit: opts.pInit,
      topology: opts.topology,
      remoteGradients: opts.remoteGradients,
    },
    runs,
    summary: {
      depth0: table((m) => of(at(0), m)),
      depth1: table((m) => of(at(1), m)),
      gain: table(gain),
    },
  };
}

/**
 * `pnpm swarm chain --seeds 1-3 --steps 300 [--a-target N] [--p-init zero|identity]
 *  [--topology chain|triangle] [--remote-grads on|frozen] --out DIR [--quiet]`.
 */
export function parseChainArgs(argv: readonly string[], baseDir: string): ChainOptions {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : argv[i + 1];
  };
  const flags = [
    '--seeds',
    '--steps',
    '--a-target',
    '--p-init',
    '--topology',
    '--remote-grads',
    '--out',
    '--quiet',
  ];
  for (const arg of argv)
    if (arg.startsWith('--') && !flags.includes(arg))
      throw new UsageError(
        `chain: unknown flag ${arg} (--seeds A-B|LIST, --steps N, --a-target N, --p-init zero|identity, --topology chain|triangle, --remote-grads on|frozen, --out DIR, --quiet)`,
      );
  const seedsRaw = value('--seeds') ?? '1-3';
  const range = /^(\d+)-(\d+)$/.exec(seedsRaw);
  const seeds = range
    ? Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i)
    : seedsRaw.split(',').map(Number);
  if (seeds.length === 0 || seeds.length > 50 || seeds.some((s) => !Number.isInteger(s) || s < 0))
    throw new UsageError(`--seeds: expected A-B or a comma-separated list, got '${seedsRaw}'`);
  const steps = Number(value('--steps') ?? '300');
  if (!Number.isInteger(steps) || steps < 1 || steps > 100_000)
    throw new UsageError(`--steps: expected 1..100000, got '${value('--steps')}'`);
  const aTarget = Number(value('--a-target') ?? DEFAULT_CHAIN_SETUP.aTarget);
  if (!Number.isInteger(aTarget) || aTarget < 2 || aTarget > CHAIN_MAX_A_TARGET)
    throw new UsageError(
      `--a-target: expected 2..${CHAIN_MAX_A_TARGET} (a handful), got '${value('--a-target')}'`,
    );
  const d = DEFAULT_CHAIN_SETUP;
  const pInit = either('--p-init', value('--p-init') ?? d.pInit, 'zero', 'identity');
  const topology = either('--topology', value('--topology') ?? d.topology, 'chain', 'triangle');
  const remoteGradients = either(
    '--remote-grads',
    value('--remote-grads') ?? d.remoteGradients,
    'on',
    'frozen',
  );
  return {
    seeds,
    steps,
    aTarget,
    pInit,
    topology,
    remoteGradients,
    out: resolve(baseDir, value('--out') ?? 'chain-out'),
    quiet: argv.includes('--quiet'),
  };
}

/** Runs every seed at depth 0 then 1, writes DIR/chain.json, returns the result. */
export async function runChainExperiment(
  opts: ChainOptions,
  log: (line: string) => void,
): Promise<ChainResult> {
  const digits = await loadMnistDigits();
  const runs: ChainRun[] = [];
  for (const seed of opts.seeds)
    for (const depth of [0, 1] as const) {
      const run = await runChain(digits, seed, depth, opts.steps, opts);
      runs.push(run);
      log(
        `seed ${seed} depth ${depth}: A task ${run.task.toFixed(3)} target ${run.target.toFixed(3)} (offline ${run.taskOffline.toFixed(3)} / ${run.targetOffline.toFixed(3)}), target examples A ${run.targetExamples.A} B ${run.targetExamples.B} C ${run.targetExamples.C}, ${run.wallSeconds.toFixed(0)} s`,
      );
    }
  const result = summarizeChain(opts, runs);
  await mkdir(opts.out, { recursive: true });
  await writeFile(join(opts.out, 'chain.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
