/**
 * Bounded load test of the signaling server, on 127.0.0.1 only, two
 * deployments side by side in one run:
 *   single   one server process, BENCH_CLIENTS (2,000) clients in BENCH_ROOMS (100) rooms
 *   cluster  three server processes on a 3-node NATS cluster this bench starts
 *            (free ports, stopped at the end), 3 × BENCH_CLIENTS clients spread
 *            over them, 3 × BENCH_ROOMS rooms of the same size, each room
 *            spanning all three instances (relay within one instance and across two)
 * Each runs the phases of load-phases.ts (idle, paced at the same aggregate
 * rates, saturated). Server RSS per instance from /metrics and /proc (VmHWM).
 * BENCH_CLUSTER=0 runs the single deployment only (no nats-server needed).
 *
 * Every client comes from 127.0.0.1: server-child.ts lifts the per-address
 * budgets, connection caps and the per-connection message rate (this measures
 * relaying, not refusals); the results list every rejection by code.
 *
 * Writes $PEERBENCH_BENCH_DIR (default <repo>/bench-results)/signaling-server.json
 * (the single deployment) and signaling-cluster-load.json (both).
 */
import { execSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { benchEntry } from '@peerbench/protocol/bench-entry';
import { round } from './load-clients.js';
import { runDeployment } from './load-deployment.js';

const { log, writeResult } = benchEntry(import.meta.url, { hardTimeoutMs: 600_000 });

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 2_000);
const ROOMS = Number(process.env.BENCH_ROOMS ?? 100);
const CLUSTER_INSTANCES = 3;
/**
 * Aggregate offered rates, one phase each, the same for both deployments (one
 * machine does all the work in both). Real signaling is bursty at join time
 * and near silent afterwards; 1,000 msgs/s from 2,000 peers is already a
 * heavy steady state, 4,000/s an overload test on a 2-core machine.
 */
const PACED_RATES_MSGS_PER_S = [500, 1_000, 2_000, 4_000];
const PACED_DURATION_MS = 5_000;
/** The phase the p99 target is judged on. */
const TARGET_PACED_RATE_MSGS_PER_S = 1_000;
const SATURATED_DURATION_MS = 8_000;
const TARGET_P99_MS = 50;
const TARGET_RSS_MIB = 300;

type Deployment = Awaited<ReturnType<typeof runDeployment>>;

function targets(d: Deployment) {
  const phase = d.paced.find((p) => p.offeredMsgsPerS === TARGET_PACED_RATE_MSGS_PER_S);
  const peakRss = Math.max(...d.perInstance.map((i) => i.rssPeakMiB));
  return {
    p99Ms: TARGET_P99_MS,
    rssMiB: TARGET_RSS_MIB,
    judgedAtPacedMsgsPerS: TARGET_PACED_RATE_MSGS_PER_S,
    pacedP99Met: (phase?.p99Ms ?? Number.POSITIVE_INFINITY) < TARGET_P99_MS,
    rssMet: peakRss < TARGET_RSS_MIB,
  };
}

async function main(): Promise<void> {
  const common = {
    pacedRatesMsgsPerS: PACED_RATES_MSGS_PER_S,
    pacedDurationMs: PACED_DURATION_MS,
    saturatedDurationMs: SATURATED_DURATION_MS,
    clientsPerInstance: CLIENTS,
    roomsPerInstance: ROOMS,
    log,
  };
  const load0 = loadavg()[0] ?? 0;
  const single = await runDeployment({ ...common, instances: 1 });
  const load1 = loadavg()[0] ?? 0;
  const cluster =
    process.env.BENCH_CLUSTER === '0'
      ? undefined
      : await runDeployment({ ...common, instances: CLUSTER_INSTANCES });
  const load2 = loadavg()[0] ?? 0;

  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const machine = { cpus: cpus().length, node: process.version };
  const date = new Date().toISOString();
  const s = single.perInstance[0];
  // signaling-server.json keeps its earlier shape (one server).
  const singleResult = {
    benchmark: 'signaling-server load',
    date,
    commit,
    host: '127.0.0.1',
    clients: single.clients,
    rooms: single.rooms,
    peersPerRoom: single.peersPerRoom,
    machine: { ...machine, loadAverage1m: load0, loadAverage1mAfter: load1 },
    joinAllSeconds: single.joinAllSeconds,
    idle: single.idle,
    paced: single.paced,
    saturated: single.saturated,
    clientsClosed: single.clientsClosed,
    server: s && {
      rssIdleMiB: s.rssIdleMiB,
      rssJoinedMiB: s.rssJoinedMiB,
      rssPeakMiB: s.rssPeakMiB,
      relayedMessagesTotal: s.relayedMessagesTotal,
      rejectedMessages: s.rejectedMessages,
    },
    targets: targets(single),
  };
  writeResult('signaling-server.json', singleResult);
  if (cluster) {
    const p99At = (d: Deployment, rate: number) => d.paced.find((p) => p.offeredMsgsPerS === rate)?.p99Ms;
    const both = {
      benchmark: 'signaling-server load, one instance vs three on NATS',
      date,
      commit,
      host: '127.0.0.1',
      machine: { ...machine, loadAverage1m: { before: load0, betweenRuns: load1, after: load2 } },
      single: { ...single, targets: targets(single) },
      cluster: { ...cluster, targets: targets(cluster) },
      ratios: {
        clusterOverSingleP99ByPacedRate: PACED_RATES_MSGS_PER_S.map((rate) => ({
          offeredMsgsPerS: rate,
          ratio: round((p99At(cluster, rate) ?? Number.NaN) / (p99At(single, rate) ?? Number.NaN)),
        })),
        clusterOverSingleSaturatedMsgsPerS: round(cluster.saturated.msgsPerS / single.saturated.msgsPerS),
        idleAcrossOverWithinP50:
          'idleAcross' in cluster && cluster.idleAcross
            ? round(cluster.idleAcross.p50Ms / cluster.idle.p50Ms)
            : Number.NaN,
      },
    };
    writeResult('signaling-cluster-load.json', both);
    process.stdout.write(`${JSON.stringify(both, null, 2)}\n`);
  } else process.stdout.write(`${JSON.stringify(singleResult, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
