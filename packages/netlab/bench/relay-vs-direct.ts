/**
 * Does a swarm learn as well over TURN relays as over direct links? (issue
 * 18: "with TURN the link comes up relayed, forwards and backwards cross it,
 * and a swarm's learning over it matches the direct run within noise".)
 * For each seed, the training soak's swarm (src/training-soak.ts: 4 real
 * Peers in separate homes, the signaling server's CLI with its ledger,
 * coturn) trains a fixed number of steps three times: behind
 * endpoint-independent NATs (direct links), the same again (how much two
 * runs of one seed differ: timing decides what a remote encoder answers),
 * and behind symmetric NATs (no direct path: every link through coturn). No
 * delay, loss or outage: only the path differs. Per run: the link types the
 * meshes reported, answers accepted and remote gradients applied (forwards
 * and backwards across the links), the held-out accuracy after the last step
 * and the mean training loss of the last steps.
 *
 *   node --import tsx bench/relay-vs-direct.ts [--seeds 1,2,3] [--steps 150] [--out bench-results/nat-relay-vs-direct.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_TRAINING_SOAK,
  evaluateSoak,
  labUnavailableReason,
  type NatMode,
  runTrainingSoak,
  type TrainingSoakRun,
} from '../src/index.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    seeds: { type: 'string', default: '1,2,3' },
    steps: { type: 'string', default: '150' },
    out: { type: 'string', default: 'bench-results/nat-relay-vs-direct.json' },
  },
});
const unavailable = labUnavailableReason();
if (unavailable) {
  console.error(`relay-vs-direct: ${unavailable}`);
  process.exit(2);
}
const seeds = values.seeds!.split(',').map(Number);
const steps = Number(values.steps);
/** Training loss is averaged over this many last steps of each peer. */
const LAST_STEPS = 20;

interface RunSummary {
  seed: number;
  mode: 'direct' | 'direct-again' | 'relay';
  /** Link types the meshes reported connected (each end of each link, the last report). */
  linkTypes: Record<string, number>;
  answersAccepted: number;
  remoteGradientsApplied: number;
  standIns: number;
  /** Per peer: held-out accuracy after its last step, mean loss of its last LAST_STEPS steps. */
  accuracy: number[];
  lastLoss: number[];
  meanAccuracy: number;
  meanLastLoss: number;
  violations: string[];
  stepMsP50: number;
}

function summarise(seed: number, mode: RunSummary['mode'], r: TrainingSoakRun): RunSummary {
  const linkTypes: Record<string, number> = {};
  for (const p of r.peers) {
    const last = new Map<string, string>();
    for (const l of p.links)
      if (l.info.state === 'connected' && l.info.type) last.set(l.info.peerId, l.info.type);
    for (const t of last.values()) linkTypes[t] = (linkTypes[t] ?? 0) + 1;
  }
  const accuracy = r.peers.map(
    (p) => p.steps.findLast((s) => s.accuracy !== undefined)?.accuracy ?? Number.NaN,
  );
  const lastLoss = r.peers.map((p) => {
    const l = p.steps.slice(-LAST_STEPS).map((s) => s.loss);
    return l.reduce((a, b) => a + b, 0) / l.length;
  });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const durations = r.peers.flatMap((p) => p.steps.map((s) => s.endMs - s.startMs)).sort((a, b) => a - b);
  return {
    seed,
    mode,
    linkTypes,
    answersAccepted: r.peers.reduce((a, p) => a + (p.stats?.answersAccepted ?? 0), 0),
    remoteGradientsApplied: r.peers.reduce((a, p) => a + (p.stats?.remoteGradientsApplied ?? 0), 0),
    standIns: r.peers.reduce((a, p) => a + p.steps.reduce((b, s) => b + s.standIns.length, 0), 0),
    accuracy,
    lastLoss,
    meanAccuracy: mean(accuracy),
    meanLastLoss: mean(lastLoss),
    violations: evaluateSoak(r).violations,
    stepMsP50: durations[Math.floor(durations.length / 2)] ?? Number.NaN,
  };
}

const runs: RunSummary[] = [];
const loadStart = loadavg();
const modes: Array<[RunSummary['mode'], NatMode]> = [
  ['direct', 'endpoint-independent'],
  ['direct-again', 'endpoint-independent'],
  ['relay', 'symmetric'],
];
for (const seed of seeds) {
  for (const [mode, nat] of modes) {
    const r = await runTrainingSoak({
      ...DEFAULT_TRAINING_SOAK,
      durationS: 1_200,
      maxSteps: steps,
      outageS: 0,
      rttMs: 0,
      jitterMs: 0,
      lossPct: 0,
      nat,
      seed,
      evalEverySteps: steps,
    });
    const s = summarise(seed, mode, r);
    runs.push(s);
    console.error(
      `seed ${seed} ${mode}: links ${JSON.stringify(s.linkTypes)}, answers ${s.answersAccepted}, backwards applied ${s.remoteGradientsApplied}, accuracy ${s.meanAccuracy.toFixed(3)}, last loss ${s.meanLastLoss.toFixed(3)}${s.violations.length ? `, ${s.violations.join('; ')}` : ''}`,
    );
  }
}
const loadEnd = loadavg();

const sd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
};
const by = (mode: RunSummary['mode']) => runs.filter((r) => r.mode === mode);
const diffs = (a: RunSummary['mode'], b: RunSummary['mode'], k: 'meanAccuracy' | 'meanLastLoss') =>
  by(a).map((r, i) => r[k] - by(b)[i]![k]);
const comparison = Object.fromEntries(
  (['meanAccuracy', 'meanLastLoss'] as const).map((k) => {
    const relay = diffs('relay', 'direct', k);
    const again = diffs('direct-again', 'direct', k);
    const m = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return [
      k,
      {
        relayMinusDirect: relay,
        meanRelayMinusDirect: m(relay),
        sdRelayMinusDirect: sd(relay),
        againMinusDirect: again,
        meanAbsAgainMinusDirect: m(again.map(Math.abs)),
      },
    ];
  }),
);
console.log(
  '| seed | mode | link ends (type: count) | answers accepted | backwards applied | stand-ins | held-out accuracy (mean of 4) | loss, last 20 steps (mean of 4) | step p50 ms |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of runs)
  console.log(
    `| ${r.seed} | ${r.mode} | ${Object.entries(r.linkTypes)
      .map(([t, n]) => `${t}: ${n}`)
      .join(
        ', ',
      )} | ${r.answersAccepted} | ${r.remoteGradientsApplied} | ${r.standIns} | ${r.meanAccuracy.toFixed(3)} | ${r.meanLastLoss.toFixed(3)} | ${r.stepMsP50} |`,
  );
console.log(JSON.stringify(comparison, null, 1));
const base = process.env.INIT_CWD ?? process.cwd();
const out = resolve(base, values.out!);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), steps, seeds, load: { start: loadStart, end: loadEnd }, runs, comparison }, null, 1)}\n`,
);
console.error(`wrote ${out}`);
