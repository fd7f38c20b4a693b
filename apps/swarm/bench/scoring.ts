/**
 * What scoring on the validation slice costs: the same 8-peer swarm (same
 * seed, in-memory transport, embedded ledger) with a scoring pass every 2
 * steps (the default) and with scoring off, alternated twice so a change of
 * machine load hits both sides. The figure is the swarm step time with
 * scoring over without (target: at most 1.25). Writes
 * $PEERBENCH_BENCH_DIR/scoring.json with the load average.
 */
import events from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, type SwarmOptions } from '../src/args.js';
import { initBackend } from '../src/backend.js';
import { Swarm } from '../src/swarm.js';

const PEERS = 8;
const STEPS = 30;
const WARMUP_STEPS = 4;
const ROUNDS = 2;

async function measure(scoreEvery: number): Promise<number> {
  const opts = parseArgs(
    `--peers ${PEERS} --steps ${STEPS + WARMUP_STEPS} --quiet --eval-every 100000 --eval-size 10 --block-steps 10 --shard-sizes uniform --score-every ${scoreEvery}`.split(
      ' ',
    ),
    process.cwd(),
  ) as SwarmOptions;
  const swarm = await Swarm.create(opts);
  try {
    const rec = await swarm.run();
    const timed = rec.steps.filter((s) => s.step > WARMUP_STEPS);
    // Peer.step includes its scoring pass, so the swarm step time carries the cost.
    return timed.reduce((a, s) => a + s.ms, 0) / timed.length;
  } finally {
    await swarm.dispose();
  }
}

events.defaultMaxListeners = Math.max(events.defaultMaxListeners, 256);
const backend = await initBackend();
const on: number[] = [];
const off: number[] = [];
const loadBefore = loadavg();
for (let r = 0; r < ROUNDS; r++) {
  on.push(await measure(2));
  off.push(await measure(0));
}
const mean = (v: number[]) => v.reduce((a, x) => a + x, 0) / v.length;
const ratio = mean(on) / mean(off);
process.stderr.write(
  `[bench scoring] ${PEERS} peers: swarm step ${mean(on).toFixed(1)} ms with scoring every 2 steps, ${mean(off).toFixed(1)} ms without: ${ratio.toFixed(3)}x\n`,
);
const dir = resolve(
  process.env.PEERBENCH_BENCH_DIR ?? join(import.meta.dirname, '..', '..', '..', 'bench-results'),
);
mkdirSync(dir, { recursive: true });
const out = join(dir, 'scoring.json');
writeFileSync(
  out,
  `${JSON.stringify(
    {
      package: '@peerbench/swarm',
      backend,
      peers: PEERS,
      steps: STEPS,
      rounds: ROUNDS,
      scoreEverySteps: 2,
      scoreRows: 32,
      swarmStepMsWithScoring: on,
      swarmStepMsWithoutScoring: off,
      ratio,
      cpus: availableParallelism(),
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg(),
      createdAt: new Date().toISOString(),
    },
    null,
    2,
  )}\n`,
);
process.stderr.write(`[bench scoring] wrote ${out}\n`);
