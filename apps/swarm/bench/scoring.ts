/**
 * What scoring on the validation slice costs: the same 8-peer swarm (same
 * seed, in-memory transport, embedded ledger) with a scoring pass every 2
 * steps (the default) and with scoring off, alternated twice so a change of
 * machine load hits both sides. The figure is the swarm step time with
 * scoring over without (target: at most 1.25). Writes
 * $PEERBENCH_BENCH_DIR/scoring.json with the load average.
 */
import { availableParallelism, loadavg } from 'node:os';
import { initBackend } from '../src/backend.js';
import { runTimedSwarm, writeBenchResult } from './common.js';

const PEERS = 8;
const STEPS = 30;
const WARMUP_STEPS = 4;
const ROUNDS = 2;

async function measure(scoreEvery: number): Promise<number> {
  const { timed, ms } = await runTimedSwarm(PEERS, STEPS, WARMUP_STEPS, [
    '--score-every',
    String(scoreEvery),
  ]);
  // Peer.step includes its scoring pass, so the swarm step time carries the cost.
  return ms / timed.length;
}

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
const out = writeBenchResult('scoring.json', {
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
});
process.stderr.write(`[bench scoring] wrote ${out}\n`);
