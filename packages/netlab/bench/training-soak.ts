/**
 * The training soak of issue 18 (src/training-soak.ts): 4 real Peers in
 * separate namespaces behind NATs, 80 ms RTT ± 20 ms, 2 % UDP loss per path,
 * the signaling server's CLI with its embedded ledger, one 20 s outage of one
 * host; prints the findings against the targets and writes the
 * records (JSON) and a plot (SVG). Exits 1 when a target is missed.
 *
 *   pnpm --filter @peerbench/netlab soak:train -- [--minutes 10] [--outage-at-s 200] [--outage-s 20]
 *       [--rtt-ms 80] [--jitter-ms 20] [--loss-pct 2] [--peers 4] [--seed 1] [--block-interval-ms 3000]
 *       [--step-pause-ms 50] [--out bench-results/nat-training-soak.json] [--svg FILE]
 *
 * Needs root (see the README).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_TRAINING_SOAK as D,
  evaluateSoak,
  labUnavailableReason,
  runTrainingSoak,
  soakSummary,
  soakSvg,
  withShortPeerIds,
} from '../src/index.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    minutes: { type: 'string', default: String(D.durationS / 60) },
    'outage-at-s': { type: 'string', default: String(D.outageAtS) },
    'outage-s': { type: 'string', default: String(D.outageS) },
    'rtt-ms': { type: 'string', default: String(D.rttMs) },
    'jitter-ms': { type: 'string', default: String(D.jitterMs) },
    'loss-pct': { type: 'string', default: String(D.lossPct) },
    peers: { type: 'string', default: String(D.peers) },
    seed: { type: 'string', default: String(D.seed) },
    'block-interval-ms': { type: 'string', default: String(D.blockIntervalMs) },
    'step-pause-ms': { type: 'string', default: String(D.stepPauseMs) },
    out: { type: 'string', default: 'bench-results/nat-training-soak.json' },
    svg: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`usage: pnpm --filter @peerbench/netlab soak:train -- [--minutes ${D.durationS / 60}] [--outage-at-s ${D.outageAtS}]
  [--outage-s ${D.outageS}] [--rtt-ms ${D.rttMs}] [--jitter-ms ${D.jitterMs}] [--loss-pct ${D.lossPct}] [--peers ${D.peers}]
  [--seed ${D.seed}] [--block-interval-ms ${D.blockIntervalMs}] [--step-pause-ms ${D.stepPauseMs}]
  [--out bench-results/nat-training-soak.json] [--svg FILE]
Runs the training soak of issue 18 in network namespaces (needs root); exits 1 when a target is missed.`);
  process.exit(0);
}
const unavailable = labUnavailableReason();
if (unavailable) {
  console.error(`soak:train: ${unavailable}`);
  process.exit(2);
}
const num = (k: keyof typeof values) => Number(values[k]);
// pnpm runs the script inside the package: paths are the caller's (INIT_CWD).
const base = process.env.INIT_CWD ?? process.cwd();
const out = resolve(base, values.out!);
const svgPath = resolve(base, values.svg ?? out.replace(/\.json$/, '.svg'));

const result = await runTrainingSoak({
  ...D,
  durationS: Math.round(num('minutes') * 60),
  outageAtS: num('outage-at-s'),
  outageS: num('outage-s'),
  rttMs: num('rtt-ms'),
  jitterMs: num('jitter-ms'),
  lossPct: num('loss-pct'),
  peers: num('peers'),
  seed: num('seed'),
  blockIntervalMs: num('block-interval-ms'),
  stepPauseMs: num('step-pause-ms'),
  log: (line) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
});
const findings = evaluateSoak(result);
console.log(soakSummary(result, findings));
mkdirSync(dirname(out), { recursive: true });
// Records with short peer ids (the findings were computed on the full ones).
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), result: withShortPeerIds(result), findings })}\n`,
);
mkdirSync(dirname(svgPath), { recursive: true });
writeFileSync(
  svgPath,
  soakSvg(
    result,
    `${result.peers.length} peers, ${result.options.rttMs} ms RTT ± ${result.options.jitterMs}, ${result.options.lossPct} % loss, ${result.options.outageS} s outage`,
  ),
);
console.error(`wrote ${out} and ${svgPath}`);
process.exit(findings.violations.length === 0 ? 0 : 1);
