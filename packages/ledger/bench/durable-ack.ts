/**
 * "ok means on disk", measured → $PEERBENCH_BENCH_DIR/durable-ack.json (default <repo>/bench-results/).
 *  1. kill -9 × KILLS of the embedded ledger (SQLite, a child process with its own submitter) under
 *     RATE tx/s, killed after a seeded number of acks, restarted on the same file each time; at the
 *     end a restart without load drains the mempool, and every acknowledged tx hash is looked up in
 *     the chain. Done twice: with the durable mempool, and with it hidden (--no-durable: the
 *     behaviour before), same seeds.
 *     Per round: ack latency (submitTx call → answer, in the child) p50/p99.
 *  2. Admission throughput (acks/s, as fast as the submitter can sign) with and without the
 *     durable mempool, alternated A B A B A B in one run on the same machine.
 * Usage: pnpm --filter @peerbench/ledger bench:durable [--kills N] [--rate R] [--only-throughput]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchEntry } from '@peerbench/protocol/bench-entry';
import { chainTxHashes } from '../test/fixtures/chain-tx-hashes.js';

const { log, writeResult } = benchEntry(import.meta.url);

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const KILLS = arg('--kills', 10);
const RATE_TX_PER_S = arg('--rate', 1500);
const PEERS = 64;
const THROUGHPUT_PEERS = 256;
const THROUGHPUT_WINDOW_MS = 3000;
const SEED = 15;

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '../../..');
const child = join(here, '../test/fixtures/durable-child.ts');

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  proc: ChildProcess;
  ready: Promise<{ restored: number; dropped: number }>;
  acks: Array<{ hash: string; atMs: number; latencyMs: number }>;
  drained: Promise<void>;
  exited: Promise<void>;
}

function start(dataDir: string, rate: number, peers: number, durable: boolean): Run {
  const args = ['--import', 'tsx', child, dataDir, String(rate), String(peers)];
  if (!durable) args.push('--no-durable');
  const proc = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const acks: Run['acks'] = [];
  let onReady: (r: { restored: number; dropped: number }) => void = () => {};
  let onDrained: () => void = () => {};
  const ready = new Promise<{ restored: number; dropped: number }>((r) => {
    onReady = r;
  });
  const drained = new Promise<void>((r) => {
    onDrained = r;
  });
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const [kind, a, b, c] = buf.slice(0, nl).split(' ');
      buf = buf.slice(nl + 1);
      if (kind === 'ack')
        acks.push({ hash: a!, atMs: performance.now(), latencyMs: Number(b ?? Number.NaN) });
      else if (kind === 'ready') onReady({ restored: Number(b), dropped: Number(c) });
      else if (kind === 'block' && c === '0') onDrained();
    }
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return { proc, ready, acks, drained, exited };
}

async function kill9(r: Run): Promise<void> {
  r.proc.kill('SIGKILL');
  await r.exited;
}

/** Resolves when `pred` holds, checking on each stdout chunk (no timer). */
function when(r: Run, pred: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pred()) return resolve();
    const check = () => {
      if (!pred()) return;
      r.proc.stdout!.off('data', check);
      resolve();
    };
    r.proc.stdout!.on('data', check);
    r.exited.then(() => reject(new Error('child exited')));
  });
}

function latency(acks: Run['acks']): { ackP50Ms: number; ackP99Ms: number } {
  const xs = acks.map((a) => a.latencyMs).filter((x) => Number.isFinite(x));
  xs.sort((a, b) => a - b);
  const q = (p: number) => Math.round(xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]! * 100) / 100;
  return { ackP50Ms: q(0.5), ackP99Ms: q(0.99) };
}

async function killRounds(durable: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'durable-ack-'));
  const dataDir = join(dir, 'data');
  const rand = mulberry32(SEED);
  const rounds: Array<{
    killAfterAcks: number;
    acked: number;
    ackRateTxPerS: number;
    ackP50Ms: number;
    ackP99Ms: number;
    restoredAtNextStart: number;
    droppedAtNextStart: number;
    hashes: string[];
  }> = [];
  try {
    for (let k = 0; k < KILLS; k++) {
      const killAfterAcks = 300 + Math.floor(rand() * 2700);
      const r = start(dataDir, RATE_TX_PER_S, PEERS, durable);
      const ready = await r.ready;
      if (k > 0) {
        rounds[k - 1]!.restoredAtNextStart = ready.restored;
        rounds[k - 1]!.droppedAtNextStart = ready.dropped;
      }
      await when(r, () => r.acks.length >= killAfterAcks);
      await kill9(r);
      const span = (r.acks.at(-1)!.atMs - r.acks[0]!.atMs) / 1000;
      rounds.push({
        killAfterAcks,
        acked: r.acks.length,
        ackRateTxPerS: Math.round(r.acks.length / span),
        ...latency(r.acks),
        restoredAtNextStart: 0,
        droppedAtNextStart: 0,
        hashes: r.acks.map((a) => a.hash),
      });
      const round = rounds.at(-1)!;
      log(
        `${durable ? 'durable' : 'before'} kill ${k + 1}: ${r.acks.length} acked at ${round.ackRateTxPerS} tx/s, ack p50/p99 ${round.ackP50Ms}/${round.ackP99Ms} ms`,
      );
    }
    const last = start(dataDir, 0, PEERS, durable);
    const ready = await last.ready;
    rounds.at(-1)!.restoredAtNextStart = ready.restored;
    rounds.at(-1)!.droppedAtNextStart = ready.dropped;
    await last.drained;
    await kill9(last);
    const inChain = await chainTxHashes(join(dataDir, 'ledger.db'));
    return rounds.map(({ hashes, ...rest }) => ({
      ...rest,
      missing: hashes.filter((h) => !inChain.has(h)).length,
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughput(durable: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'durable-tput-'));
  try {
    const r = start(join(dir, 'data'), Number.POSITIVE_INFINITY, THROUGHPUT_PEERS, durable);
    await r.ready;
    // Skip the registrations (one block) and a warm-up, then count acks over the window.
    await when(r, () => r.acks.length >= THROUGHPUT_PEERS + 2000);
    const from = r.acks.length;
    const t0 = performance.now();
    await new Promise((res) => setTimeout(res, THROUGHPUT_WINDOW_MS));
    const n = r.acks.length - from;
    const secs = (performance.now() - t0) / 1000;
    await kill9(r);
    return Math.round(n / secs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const load = loadavg()[0]!;
const tput: Record<'durable' | 'before', number[]> = { durable: [], before: [] };
for (let rep = 0; rep < 3; rep++)
  for (const durable of [false, true]) {
    const v = await throughput(durable);
    tput[durable ? 'durable' : 'before'].push(v);
    log(`throughput ${durable ? 'durable' : 'before'}: ${v} acks/s`);
  }
if (process.argv.includes('--only-throughput')) process.exit(0);
const durableRounds = await killRounds(true);
const beforeRounds = await killRounds(false);
const sum = (xs: Array<{ acked: number; missing: number }>, k: 'acked' | 'missing') =>
  xs.reduce((s, x) => s + x[k], 0);
const result = {
  date: new Date().toISOString(),
  kills: KILLS,
  rateTxPerS: RATE_TX_PER_S,
  peers: PEERS,
  blockIntervalMs: 50,
  seed: SEED,
  cpus: availableParallelism(),
  loadAvg1mAtStart: Math.round(load * 100) / 100,
  loadAvg1mAtEnd: Math.round(loadavg()[0]! * 100) / 100,
  throughputAcksPerS: tput,
  durable: {
    acked: sum(durableRounds, 'acked'),
    missing: sum(durableRounds, 'missing'),
    rounds: durableRounds,
  },
  before: { acked: sum(beforeRounds, 'acked'), missing: sum(beforeRounds, 'missing'), rounds: beforeRounds },
};
writeResult('durable-ack.json', result);
console.log(
  JSON.stringify(
    {
      ...result,
      durable: { ...result.durable, rounds: undefined },
      before: { ...result.before, rounds: undefined },
    },
    null,
    2,
  ),
);
