/**
 * What the swarm benchmarks share: a seeded in-memory swarm run for timing
 * (the flags that keep evaluation out of the timed steps) and where a
 * result file goes ($PEERBENCH_BENCH_DIR, default bench-results/).
 */
import events from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, type SwarmOptions } from '../src/args.js';
import type { StepRecord, SwarmRecord } from '../src/record.js';
import { Swarm } from '../src/swarm.js';

// As in the CLI: a Peer step's n−1 forwards share one AbortSignal (Node warns above 10 listeners).
events.defaultMaxListeners = Math.max(events.defaultMaxListeners, 256);

/** Held-out evaluation practically never, a small eval set, 10-step blocks, equal shards. */
const TIMING_FLAGS = '--quiet --eval-every 100000 --eval-size 10 --block-steps 10 --shard-sizes uniform';

export interface TimedSwarm {
  record: SwarmRecord;
  /** The steps after the warm-up, and the sum of their wall times in ms. */
  timed: StepRecord[];
  ms: number;
}

/** Runs `--peers peers --steps steps+warmupSteps` plus `extra` flags and the timing flags; disposes the swarm. */
export async function runTimedSwarm(
  peers: number,
  steps: number,
  warmupSteps: number,
  extra: string[] = [],
): Promise<TimedSwarm> {
  const args = ['--peers', String(peers), '--steps', String(steps + warmupSteps), ...extra];
  const opts = parseArgs([...args, ...TIMING_FLAGS.split(' ')], process.cwd()) as SwarmOptions;
  const swarm = await Swarm.create(opts);
  try {
    const record = await swarm.run();
    const timed = record.steps.filter((s) => s.step > warmupSteps);
    return { record, timed, ms: timed.reduce((a, s) => a + s.ms, 0) };
  } finally {
    await swarm.dispose();
  }
}

/** Writes `result` as JSON to `name` in $PEERBENCH_BENCH_DIR (default bench-results/); returns the path. */
export function writeBenchResult(name: string, result: unknown): string {
  const dir = resolve(
    process.env.PEERBENCH_BENCH_DIR ?? join(import.meta.dirname, '..', '..', '..', 'bench-results'),
  );
  mkdirSync(dir, { recursive: true });
  const out = join(dir, name);
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  return out;
}
