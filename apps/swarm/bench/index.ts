/**
 * Swarm throughput of the real Peer runtime: steps per second of the whole
 * swarm (every Peer takes one training step) at 4, 8 and 16 peers in one
 * process, the share of step time with a forward call outstanding (RPC,
 * including the responders' compute) vs local compute, and the same swarm in
 * isolated mode side by side (the ratio is the cost of sharing). In-memory
 * transport, embedded ledger. Writes $PEERBENCH_BENCH_DIR/swarm.json.
 */
import { availableParallelism, loadavg } from 'node:os';
import { initBackend } from '../src/backend.js';
import { runTimedSwarm, writeBenchResult } from './common.js';

// `--help` answers without running the benchmark (the README entry-point test runs it).
if (process.argv.includes('--help')) {
  console.log(
    'usage: pnpm --filter @peerbench/swarm bench\n  swarm steps/s at 4, 8, 16 peers, RPC vs compute share, shared vs isolated → $PEERBENCH_BENCH_DIR/swarm.json',
  );
  process.exit(0);
}

const SIZES = [4, 8, 16];
/** Swarm steps measured per size (after warm-up), chosen so the whole bench stays within a few minutes. */
const STEPS: Record<number, number> = { 4: 40, 8: 24, 16: 12 };
const WARMUP_STEPS = 3;

async function measure(peers: number, mode: 'shared' | 'isolated') {
  const {
    record: rec,
    timed,
    ms,
  } = await runTimedSwarm(peers, STEPS[peers]!, WARMUP_STEPS, ['--mode', mode]);
  return {
    peers,
    mode,
    steps: timed.length,
    stepsPerSecond: (timed.length / ms) * 1000,
    peerStepsPerSecond: ((timed.length * peers) / ms) * 1000,
    meanSwarmStepMs: ms / timed.length,
    rpcShare: rec.summary.networkShare,
    computeShare: 1 - rec.summary.networkShare,
    servingShare: rec.summary.servingShare,
  };
}

const backend = await initBackend();
const results = [];
for (const peers of SIZES) {
  const shared = await measure(peers, 'shared');
  const isolated = await measure(peers, 'isolated');
  const row = {
    ...shared,
    isolatedStepsPerSecond: isolated.stepsPerSecond,
    sharedOverIsolatedTime: isolated.stepsPerSecond / shared.stepsPerSecond,
  };
  results.push(row);
  process.stderr.write(
    `[bench swarm] ${peers} peers: ${row.stepsPerSecond.toFixed(2)} swarm steps/s (${row.peerStepsPerSecond.toFixed(1)} peer steps/s), RPC ${(row.rpcShare * 100).toFixed(1)}%, isolated ${row.isolatedStepsPerSecond.toFixed(2)} steps/s → sharing costs ${row.sharedOverIsolatedTime.toFixed(2)}×\n`,
  );
}
const out = writeBenchResult('swarm.json', {
  package: '@peerbench/swarm',
  backend: backend.chosen,
  backendTrial: backend,
  runtime: 'peer (packages/peer Peer, embedded ledger)',
  transport: 'memory',
  cpus: availableParallelism(),
  loadAverage: loadavg(),
  createdAt: new Date().toISOString(),
  results,
});
process.stderr.write(`[bench swarm] wrote ${out}\n`);
