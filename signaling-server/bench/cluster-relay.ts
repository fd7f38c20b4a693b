/**
 * Relay latency across instances vs within one instance, side by side in one
 * run → $PEERBENCH_BENCH_DIR/signaling-cluster-relay.json (default <repo>/bench-results).
 *
 * A 3-node NATS cluster on loopback; two signaling servers, each a process of
 * its own (server-child.ts) with its own NatsRoomBridge connected to a
 * different NATS node (so a cross-instance signal goes server process 1 →
 * node 1 → route → node 2 → server process 2).
 * PAIRS pairs of ws clients have both peers on instance 1 ("within"), PAIRS
 * more have one peer on each ("across"). Each round every sender sends one
 * signal carrying its send time to its partner, the two kinds interleaved;
 * the next round starts when all arrived (or ROUND_TIMEOUT_MS passed: counted
 * as lost). One clock: the clients are all in this process.
 */
import { execSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { startNats } from '@peerbench/ledger/nats-servers';
import { parseServerMessage } from '@peerbench/protocol';
import { benchEntry } from '@peerbench/protocol/bench-entry';
import { TestClient } from '../test/helpers.js';
import { type ServerChild, startServerChild } from './server-process.js';

const { writeResult } = benchEntry(import.meta.url);

const PAIRS = Number(process.env.BENCH_PAIRS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 150);
const ROUND_TIMEOUT_MS = 2000;
const WARMUP_ROUNDS = 10;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function summary(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    p50Ms: r(percentile(s, 50)),
    p90Ms: r(percentile(s, 90)),
    p99Ms: r(percentile(s, 99)),
    maxMs: r(s.at(-1) ?? Number.NaN),
  };
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0] ?? 0;
  const nats = await startNats({ size: 3 });
  const servers: ServerChild[] = [];
  const clients: TestClient[] = [];
  try {
    // server-child.ts's load-test options: per-address budgets and message rate lifted (one client address).
    for (const [i, url] of nats.urls.slice(0, 2).entries())
      servers.push(await startServerChild(undefined, 10_000, { natsUrls: [url], instanceId: `s${i + 1}` }));
    const [s1, s2] = servers as [ServerChild, ServerChild];
    type Pair = { kind: 'within' | 'across'; from: TestClient; to: TestClient };
    const pairs: Pair[] = [];
    for (let i = 0; i < PAIRS; i++) {
      for (const kind of ['within', 'across'] as const) {
        const room = `${kind}-${i}`;
        const { client: to } = await TestClient.joined((kind === 'within' ? s1 : s2).url, room);
        const { client: from } = await TestClient.joined(s1.url, room);
        clients.push(from, to);
        pairs.push({ kind, from, to });
      }
    }
    // Wait until every "across" receiver is known on instance 1 (its welcome or a peer-joined reached the sender).
    for (const p of pairs) {
      const known = () =>
        p.from.received.some(
          (m) =>
            (m.type === 'welcome' && m.peers.some((x) => x.peerId === p.to.peerId)) ||
            (m.type === 'peer-joined' && m.peer.peerId === p.to.peerId),
        );
      const deadline = Date.now() + 10_000;
      while (!known() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      if (!known()) throw new Error(`${p.kind} pair never saw its partner`);
    }
    const samples = { within: [] as number[], across: [] as number[] };
    let lost = { within: 0, across: 0 };
    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      const arrived = pairs.map(
        (p) =>
          new Promise<number | undefined>((resolve) => {
            const timer = setTimeout(() => {
              p.to.ws.off('message', onMessage);
              resolve(undefined);
            }, ROUND_TIMEOUT_MS);
            function onMessage(data: unknown) {
              const m = parseServerMessage(String(data));
              if (m.type !== 'signal' || m.data.type !== 'candidate') return;
              const sentAt = Number(m.data.candidate.candidate.split(':')[1]);
              if (!Number.isFinite(sentAt)) return;
              clearTimeout(timer);
              p.to.ws.off('message', onMessage);
              resolve(performance.now() - sentAt);
            }
            p.to.ws.on('message', onMessage);
          }),
      );
      for (const p of pairs) p.from.signal(p.to.peerId, `t:${performance.now()}:${round}`);
      const results = await Promise.all(arrived);
      if (round < WARMUP_ROUNDS) continue;
      results.forEach((ms, i) => {
        const kind = (pairs[i] as Pair).kind;
        if (ms === undefined) lost = { ...lost, [kind]: lost[kind] + 1 };
        else samples[kind].push(ms);
      });
    }
    const within = summary(samples.within);
    const across = summary(samples.across);
    let commit = 'unknown';
    try {
      commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
    } catch {
      // not a git checkout
    }
    const result = {
      bench: 'signaling-cluster-relay',
      date: new Date().toISOString(),
      commit,
      node: process.version,
      loadAverage1m: { before: loadBefore, after: loadavg()[0] ?? 0 },
      setup: {
        natsNodes: 3,
        instances: 2,
        instanceProcesses: 'separate',
        pairsPerKind: PAIRS,
        rounds: ROUNDS,
        warmupRounds: WARMUP_ROUNDS,
      },
      within,
      across,
      lost,
      ratioP50: Math.round((across.p50Ms / within.p50Ms) * 100) / 100,
      ratioP99: Math.round((across.p99Ms / within.p99Ms) * 100) / 100,
    };
    writeResult('signaling-cluster-relay.json', result);
    console.log(JSON.stringify(result, null, 2));
  } finally {
    for (const c of clients) c.ws.terminate();
    await Promise.all(servers.map((s) => s.stop()));
    await nats.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
