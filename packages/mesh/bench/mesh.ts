/**
 * Mesh benchmark: the same pair of Node WebRTC peers (@roamhq/wrtc), the same
 * RTCDataChannel, measured raw and through the RPC layer, alternating rounds.
 *
 * - throughput: 1 MiB fp32 tensors. Raw = the bytes of those tensors sent as
 *   16 KiB messages with the same bufferedAmount watermarks the RPC layer
 *   uses (the fair baseline at the protocol's frame size). RPC = `request()`
 *   of one 1 MiB tensor to a handler that answers an empty list, 4 in flight.
 * - latency: raw = 16-byte ping echoed by the other side's onmessage;
 *   RPC = `request('echo', [16 floats])` round trip.
 *
 * Targets (issue 4): RPC throughput ≥ 80% of raw; RPC p50 ≤ 1.2 × raw p50 + 1 ms.
 * Writes $PEERBENCH_BENCH_DIR/mesh.json (default <repo>/bench-results/mesh.json).
 * Run: pnpm --filter @peerbench/mesh bench (or npx tsx packages/mesh/bench/mesh.ts)
 */
import { cpus, loadavg } from 'node:os';
import { MAX_FRAME_BYTES, type WireTensor } from '@peerbench/protocol';
import { benchEntry } from '@peerbench/protocol/bench-entry';
import wrtc from '@roamhq/wrtc';
import type { Link } from '../src/link.js';
import { RpcSession } from '../src/rpc-session.js';
import {
  DRAIN_POLL_FALLBACK_MS,
  DRAIN_POLL_MS,
  SEND_HIGH_WATER_BYTES,
  SEND_LOW_WATER_BYTES,
} from '../src/send-queue.js';
import { createWebRtcLinkPair } from '../src/webrtc-pair.js';

const { log, writeResult } = benchEntry(import.meta.url);

const MIB = 1024 * 1024;
const TENSOR_BYTES = MIB;
const TENSORS_PER_ROUND = Number(process.env.MESH_BENCH_TENSORS ?? 24);
const ROUNDS = Number(process.env.MESH_BENCH_ROUNDS ?? 6);
const PINGS = Number(process.env.MESH_BENCH_PINGS ?? 200);
const RPC_IN_FLIGHT = 4;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const median = (xs: number[]) => percentile(xs, 50);

/** Raw: stream `totalBytes` as MAX_FRAME_BYTES messages with watermark backpressure; time until all arrived. */
function rawThroughput(a: Link, b: Link, totalBytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const t0 = performance.now();
    b.setListener({
      frame: (f) => {
        received += f.length;
        if (received >= totalBytes) resolve(totalBytes / MIB / ((performance.now() - t0) / 1000));
      },
      close: (r) => reject(new Error(r)),
      drain: () => {},
    });
    const chunk = new Uint8Array(MAX_FRAME_BYTES).fill(7);
    let sent = 0;
    a.lowWaterBytes = SEND_LOW_WATER_BYTES;
    let poll: ReturnType<typeof setTimeout> | undefined;
    const pump = () => {
      if (poll) clearTimeout(poll);
      while (sent < totalBytes && a.bufferedAmount < SEND_HIGH_WATER_BYTES) {
        // A fresh buffer per message, as the RPC layer makes one per frame.
        const n = Math.min(MAX_FRAME_BYTES, totalBytes - sent);
        a.send(chunk.slice(0, n));
        sent += n;
      }
      // Same wait rule as the RPC pump.
      if (sent < totalBytes) poll = setTimeout(pump, a.drainEvents ? DRAIN_POLL_MS : DRAIN_POLL_FALLBACK_MS);
    };
    a.setListener({ frame: () => {}, close: (r) => reject(new Error(r)), drain: pump });
    pump();
  });
}

async function rawPing(a: Link, b: Link, n: number): Promise<number[]> {
  b.setListener({ frame: (f) => b.send(f.slice()), close: () => {}, drain: () => {} });
  const rtts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      a.setListener({ frame: () => resolve(), close: () => {}, drain: () => {} });
      a.send(new Uint8Array(16));
    });
    rtts.push(performance.now() - t0);
  }
  return rtts;
}

async function rpcThroughput(a: RpcSession, count: number): Promise<number> {
  const t: WireTensor = { shape: [TENSOR_BYTES / 4], data: new Float32Array(TENSOR_BYTES / 4).fill(0.5) };
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await a.request('sink', [t], { timeoutMs: 60_000 });
    }
  };
  await Promise.all(Array.from({ length: RPC_IN_FLIGHT }, worker));
  return (count * TENSOR_BYTES) / MIB / ((performance.now() - t0) / 1000);
}

async function rpcEcho(a: RpcSession, n: number): Promise<number[]> {
  const t: WireTensor = { shape: [16], data: new Float32Array(16).fill(1.25) };
  const rtts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await a.request('echo', [t]);
    rtts.push(performance.now() - t0);
  }
  return rtts;
}

async function main(): Promise<void> {
  const A = 'a'.repeat(64);
  const B = 'b'.repeat(64);
  log('connecting a WebRTC pair (@roamhq/wrtc)…');
  const pair = await createWebRtcLinkPair(A, B, { wrtc });
  const handlers = new Map([
    ['sink', async () => [] as WireTensor[]],
    ['echo', async (_c: unknown, ts: WireTensor[]) => ts],
  ]);
  const raw = { throughput: [] as number[], ping: [] as number[] };
  const rpc = { throughput: [] as number[], echo: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    const rt = await rawThroughput(pair.a, pair.b, TENSORS_PER_ROUND * TENSOR_BYTES);
    raw.throughput.push(rt);
    log(`round ${r + 1}: raw ${rt.toFixed(1)} MiB/s`);
    const rp = await rawPing(pair.a, pair.b, PINGS);
    raw.ping.push(...rp.slice(10));
    log(`round ${r + 1}: raw ping p50 ${median(rp).toFixed(3)} ms`);
    // Fresh sessions per round take the links over (setListener) from the raw code.
    const sa = new RpcSession(pair.a, { handlers });
    const sb = new RpcSession(pair.b, { handlers });
    void sb;
    const pt = await rpcThroughput(sa, TENSORS_PER_ROUND);
    rpc.throughput.push(pt);
    log(`round ${r + 1}: rpc ${pt.toFixed(1)} MiB/s (${RPC_IN_FLIGHT} in flight)`);
    const pe = await rpcEcho(sa, PINGS);
    rpc.echo.push(...pe.slice(10));
    log(`round ${r + 1}: rpc echo p50 ${median(pe).toFixed(3)} ms`);
  }
  pair.close();

  const rawThroughputMiBps = median(raw.throughput);
  const rpcThroughputMiBps = median(rpc.throughput);
  const rawP50 = median(raw.ping);
  const rpcP50 = median(rpc.echo);
  const result = {
    benchmark: 'mesh',
    date: new Date().toISOString(),
    node: process.version,
    webrtc: '@roamhq/wrtc 0.10.0 via simple-peer 9.11.1, loopback',
    // Both peers share one process (one JS thread); figures swing with other load on the machine.
    machine: { cpus: cpus().length, loadAverage1mAtEnd: loadavg()[0] },
    config: {
      tensorBytes: TENSOR_BYTES,
      tensorsPerRound: TENSORS_PER_ROUND,
      rounds: ROUNDS,
      pingsPerRound: PINGS,
      frameBytes: MAX_FRAME_BYTES,
      rpcInFlight: RPC_IN_FLIGHT,
      sendHighWaterBytes: SEND_HIGH_WATER_BYTES,
      sendLowWaterBytes: SEND_LOW_WATER_BYTES,
    },
    raw: {
      throughputMiBps: rawThroughputMiBps,
      throughputMiBpsPerRound: raw.throughput,
      pingP50Ms: rawP50,
      pingP99Ms: percentile(raw.ping, 99),
    },
    rpc: {
      throughputMiBps: rpcThroughputMiBps,
      throughputMiBpsPerRound: rpc.throughput,
      echoP50Ms: rpcP50,
      echoP99Ms: percentile(rpc.echo, 99),
    },
    ratios: {
      throughputRpcOverRaw: rpcThroughputMiBps / rawThroughputMiBps,
      p50LimitMs: 1.2 * rawP50 + 1,
    },
    targets: {
      throughputAtLeast80PercentOfRaw: rpcThroughputMiBps / rawThroughputMiBps >= 0.8,
      p50WithinLimit: rpcP50 <= 1.2 * rawP50 + 1,
    },
  };
  log(
    `raw ${rawThroughputMiBps.toFixed(1)} MiB/s vs rpc ${rpcThroughputMiBps.toFixed(1)} MiB/s ` +
      `(${(100 * result.ratios.throughputRpcOverRaw).toFixed(0)}%); ping p50 raw ${rawP50.toFixed(3)} ms vs rpc ${rpcP50.toFixed(3)} ms ` +
      `(limit ${result.ratios.p50LimitMs.toFixed(3)} ms)`,
  );
  writeResult('mesh.json', result);
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
