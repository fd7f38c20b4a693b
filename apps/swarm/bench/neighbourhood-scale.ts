/**
 * Issue 14's cost target: with bounded neighbourhoods (D = 8 links, D + 1
 * gate slots, the neighbour policy choosing), the cost of one peer's step
 * must not grow with the network. Runs the same seeded in-memory swarm at 16
 * and at 128 peers, one after the other in this process, and reports the
 * CPU time (user + system, this process) and the wall time per peer step of
 * the timed swarm steps (after a warm-up), and their 128/16 ratios. Writes
 * $PEERBENCH_BENCH_DIR/swarm-neighbourhood-scale.json with the load average.
 */
import { availableParallelism, loadavg } from 'node:os';
import { initBackend } from '../src/backend.js';
import { runTimedSwarm, writeBenchResult } from './common.js';

if (process.argv.includes('--help')) {
  console.log(
    'usage: pnpm --filter @peerbench/swarm bench\n  CPU and wall time per peer step at 16 vs 128 peers, D = 8 → $PEERBENCH_BENCH_DIR/swarm-neighbourhood-scale.json',
  );
  process.exit(0);
}

const DEGREE = 8;
/** Timed swarm steps per size (a 128-peer swarm step is 128 peer steps), after WARMUP_STEPS. */
const STEPS: Record<number, number> = { 16: 24, 128: 4 };
const WARMUP_STEPS = 3;

async function measure(peers: number) {
  const loadBefore = loadavg();
  const { timed } = await runTimedSwarm(peers, STEPS[peers]!, WARMUP_STEPS, ['--degree', String(DEGREE)]);
  const peerSteps = timed.length * peers;
  const cpuMs = timed.reduce((a, s) => a + (s.cpuMs ?? Number.NaN), 0);
  const wallMs = timed.reduce((a, s) => a + s.ms, 0);
  return {
    peers,
    degree: DEGREE,
    timedSwarmSteps: timed.length,
    peerSteps,
    cpuMsPerPeerStep: cpuMs / peerSteps,
    wallMsPerPeerStep: wallMs / peerSteps,
    failedSteps: timed.reduce((a, s) => a + s.failedSteps, 0),
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadavg(),
  };
}

const backend = await initBackend();
const small = await measure(16);
process.stderr.write(
  `[bench neighbourhood] 16 peers: ${small.cpuMsPerPeerStep.toFixed(1)} ms CPU per peer step\n`,
);
const large = await measure(128);
process.stderr.write(
  `[bench neighbourhood] 128 peers: ${large.cpuMsPerPeerStep.toFixed(1)} ms CPU per peer step\n`,
);
const cpuRatio = large.cpuMsPerPeerStep / small.cpuMsPerPeerStep;
const wallRatio = large.wallMsPerPeerStep / small.wallMsPerPeerStep;
const out = writeBenchResult('swarm-neighbourhood-scale.json', {
  package: '@peerbench/swarm',
  what: 'CPU and wall time per peer step, 128 vs 16 peers, D = 8, memory transport, one process',
  backend: backend.chosen,
  runtime: 'peer (packages/peer Peer, embedded ledger, neighbour policy)',
  transport: 'memory (InMemoryHub with maxLinks = D)',
  cpus: availableParallelism(),
  loadAverage: loadavg(),
  createdAt: new Date().toISOString(),
  results: [small, large],
  cpuRatio128Over16: cpuRatio,
  wallRatio128Over16: wallRatio,
  target: 'cpuRatio128Over16 ≤ 1.5',
  targetMet: cpuRatio <= 1.5,
});
process.stderr.write(
  `[bench neighbourhood] 128/16 CPU per peer step ${cpuRatio.toFixed(2)}× (wall ${wallRatio.toFixed(2)}×) → ${out}\n`,
);
