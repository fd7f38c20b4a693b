/**
 * Bounded red-team run of two of issue 15's scenarios against the signaling
 * server, on 127.0.0.1 only (127.0.0.2 and 127.0.0.3 are other client
 * addresses to the server: all of 127/8 is loopback on Linux).
 *
 *   half-open  raw TCP sockets from 127.0.0.1 that send half a WebSocket
 *              upgrade request and nothing more, while /health is polled
 *              from 127.0.0.2 every HEALTH_POLL_MS.
 *   flood      FLOODERS clients from 127.0.0.1 join the target's room and
 *              send it signals as fast as their sockets take them,
 *              reconnecting after every close, for FLOOD_DURATION_MS; a
 *              well-behaved pair on 127.0.0.2 relays paced signals in its own
 *              room, its latency measured before and during the flood.
 *
 * Each scenario runs against a fresh server child with the server's defaults
 * ("budgets") and, side by side in the same run, with the per-address limits
 * lifted ("lifted": the server before issue 15; the half-open one also with
 * Node's 60 s header timeout and fewer sockets, to stay inside this process's
 * descriptor limit). Everything is bounded in count and time
 * (HARD_TIMEOUT_MS kills the run).
 *
 * Writes $PEERBENCH_BENCH_DIR/signaling-abuse.json (default <repo>/bench-results).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateIdentity, type Identity, joinChallengeBytes, toHex } from '@peerbench/protocol';
import WebSocket from 'ws';
import type { SignalingServerOptions } from '../src/index.js';

if (process.argv.includes('--help')) {
  console.log(
    'usage: pnpm --filter @peerbench/signaling-server bench:abuse\n  half-open upgrades and reconnecting flooders on 127.0.0.1, with and without the per-address budgets → $PEERBENCH_BENCH_DIR/signaling-abuse.json',
  );
  process.exit(0);
}

const ATTACKER = '127.0.0.1';
const BYSTANDER = '127.0.0.2';
const TARGET_ADDRESS = '127.0.0.3';
const HALF_OPEN_TOTAL = 20_000;
/** Lifted limits hold every socket for 60 s: fewer, all at once, within this process's descriptors. */
const HALF_OPEN_TOTAL_LIFTED = 4_000;
const HALF_OPEN_OUTSTANDING = 1_000;
const HEALTH_POLL_MS = 50;
const HEALTH_TIMEOUT_MS = 2_000;
const FLOODERS = 20;
const FLOOD_DURATION_MS = 10_000;
const BASELINE_DURATION_MS = 2_000;
const PAIR_SIGNALS_PER_S = 50;
/** A flooder tops its socket up to this much unsent data. */
const FLOODER_BUFFER_BYTES = 64 * 1024;
/** Signals a flooder sends per event-loop turn at most. */
const FLOODER_BATCH = 200;
/** Pause before a flooder reconnects (keeps the load generator from spinning on a 2-core machine). */
const RECONNECT_DELAY_MS = 10;
const HARD_TIMEOUT_MS = 240_000;
const LIFTED = { ratePerS: 1_000_000, burst: 1_000_000 };
const LIFTED_OPTIONS: SignalingServerOptions = {
  maxPendingSocketsPerIp: 1_000_000,
  maxOpenSockets: 1_000_000,
  addressBudgets: { connection: LIFTED, message: LIFTED, join: LIFTED, tx: LIFTED },
};

const here = fileURLToPath(new URL('.', import.meta.url));
const outDir = process.env.PEERBENCH_BENCH_DIR ?? join(here, '..', '..', 'bench-results');
const log = (s: string) => process.stderr.write(`[abuse bench] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Child {
  url: string;
  httpUrl: string;
  port: number;
  stop(): Promise<void>;
}

/** Every child this run started: killed when it exits, however it exits (an OOM once left one behind). */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

async function startServer(options: SignalingServerOptions): Promise<Child> {
  // BENCH_SERVER_NODE_ARGS, e.g. "--cpu-prof", to profile the server under attack.
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(
    process.execPath,
    [...extra, '--import', 'tsx', join(here, 'server-child.ts')],
    {
      cwd: join(here, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BENCH_SERVER_OPTIONS: JSON.stringify(options) },
    },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  const info = await new Promise<{ url: string; httpUrl: string }>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    ...info,
    port: Number(new URL(info.httpUrl).port),
    stop: async () => {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

function get(url: string, localAddress: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, localAddress, timeout: HEALTH_TIMEOUT_MS }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function metric(httpUrl: string, name: string): Promise<number> {
  const text = (await get(`${httpUrl}/metrics`, TARGET_ADDRESS)).body;
  const m = new RegExp(`^peerbench_signaling_${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

function summary(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { n: s.length, p50: at(50), p99: at(99), max: s.at(-1) };
}

/** Polls /health from the bystander address until `stop` resolves. */
function pollHealth(httpUrl: string, stop: Promise<void>) {
  const latenciesMs: number[] = [];
  let failed = 0;
  let done = false;
  void stop.then(() => (done = true));
  const loop = (async () => {
    while (!done) {
      const t0 = performance.now();
      try {
        const r = await get(`${httpUrl}/health`, BYSTANDER);
        if (r.status === 200) latenciesMs.push(performance.now() - t0);
        else failed++;
      } catch {
        failed++;
      }
      await sleep(HEALTH_POLL_MS);
    }
  })();
  return loop.then(() => ({ answered: latenciesMs.length, failed, latencyMs: summary(latenciesMs) }));
}

/**
 * Opens `total` half-open upgrades from the attacker address, at most
 * `outstanding` at a time (a closed one is replaced at once). With `holdAll`
 * (the lifted server holds every socket for 60 s) it opens all of them and
 * stops once they are connected; otherwise once the server closed every one.
 */
async function halfOpen(label: string, options: SignalingServerOptions, total: number, holdAll: boolean) {
  const server = await startServer(options);
  let opened = 0;
  let connected = 0;
  let closed = 0;
  const sockets = new Set<ReturnType<typeof connect>>();
  let stopPolling!: () => void;
  const health = pollHealth(server.httpUrl, new Promise<void>((r) => (stopPolling = r)));
  const t0 = performance.now();
  await new Promise<void>((finish) => {
    const check = () => {
      if (holdAll ? connected + closed >= total : closed >= total) finish();
    };
    const openOne = () => {
      if (opened >= total) return;
      opened++;
      const s = connect({ host: '127.0.0.1', port: server.port, localAddress: ATTACKER });
      sockets.add(s);
      s.on('error', () => {});
      s.once('connect', () => {
        s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');
        connected++;
        check();
      });
      s.once('close', () => {
        sockets.delete(s);
        closed++;
        if (!holdAll) openOne();
        check();
      });
    };
    for (let i = 0; i < (holdAll ? total : HALF_OPEN_OUTSTANDING); i++) openOne();
  });
  const elapsedMs = performance.now() - t0;
  const closedByServer = closed;
  const openOnServer = await metric(server.httpUrl, 'open_sockets');
  // Watch /health a little longer while the lifted server still holds its sockets.
  await sleep(1_000);
  stopPolling();
  const healthResult = await health;
  const text = (await get(`${server.httpUrl}/metrics`, TARGET_ADDRESS)).body;
  for (const s of sockets) s.destroy();
  await server.stop();
  const result = {
    label,
    halfOpenSockets: total,
    elapsedS: Math.round(elapsedMs) / 1000,
    closedByServer,
    openOnServerAtEnd: openOnServer,
    refusedAtOnce: Number(/sockets_refused_total\{limit="address"\} (\d+)/.exec(text)?.[1] ?? Number.NaN),
    closedAfterTimeout: Number(/upgrade_timeouts_total (\d+)/.exec(text)?.[1] ?? Number.NaN),
    health: healthResult,
  };
  log(JSON.stringify(result));
  return result;
}

async function wsClient(url: string, localAddress: string): Promise<{ ws: WebSocket; nonce: string }> {
  const ws = new WebSocket(url, { localAddress });
  ws.on('error', () => {});
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => {
      const msg = JSON.parse(data.toString()) as { type: string; nonce?: string; code?: string };
      if (msg.type === 'challenge' && msg.nonce) resolve({ ws, nonce: msg.nonce });
      else {
        ws.terminate();
        reject(new Error(msg.code ?? msg.type));
      }
    });
    ws.once('close', () => reject(new Error('closed')));
  });
}

/** Connects and joins; on any refusal the socket is terminated (a refused join leaves it open otherwise). */
async function joined(url: string, localAddress: string, room: string, id: Identity): Promise<WebSocket> {
  const { ws, nonce } = await wsClient(url, localAddress);
  const signature = toHex(await id.sign(joinChallengeBytes(room, nonce)));
  ws.send(JSON.stringify({ type: 'join', room, peerId: id.peerId, signature }));
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      ws.terminate();
      reject(err);
    };
    const onMessage = (data: WebSocket.RawData) => {
      const msg = JSON.parse(data.toString()) as { type: string; code?: string };
      if (msg.type === 'welcome') {
        ws.off('message', onMessage);
        resolve();
      } else if (msg.type === 'error') fail(new Error(msg.code));
    };
    ws.on('message', onMessage);
    ws.once('close', () => fail(new Error('closed')));
  });
  return ws;
}

const candidate = (text: string) =>
  JSON.stringify({ type: 'candidate', candidate: { candidate: text, sdpMid: '0' } });

interface FlooderStats {
  connects: number;
  refusedOrFailed: number;
  sent: number;
  closes: Record<string, number>;
}

/**
 * The flooders, in a process of their own (`--flooders`): in this one their
 * sending would starve the well-behaved pair's event loop and the pair's
 * latency would measure the load generator, not the server.
 */
async function runFlooders({
  url,
  targetPeerId,
}: {
  url: string;
  targetPeerId: string;
}): Promise<FlooderStats> {
  const flooderIds = await Promise.all(Array.from({ length: FLOODERS }, () => generateIdentity()));
  const stats = { connects: 0, refusedOrFailed: 0, sent: 0, closes: {} as Record<string, number> };
  const signal = `{"type":"signal","to":"${targetPeerId}","data":${candidate('flood')}}`;
  process.stdout.write(`${JSON.stringify({ started: true })}\n`);
  const end = performance.now() + FLOOD_DURATION_MS;
  const flooders = flooderIds.map(async (id) => {
    while (performance.now() < end) {
      let ws: WebSocket;
      try {
        ws = await joined(url, ATTACKER, 'victim', id);
        stats.connects++;
      } catch {
        stats.refusedOrFailed++;
        await sleep(RECONNECT_DELAY_MS);
        continue;
      }
      await new Promise<void>((done) => {
        ws.once('close', (code) => {
          stats.closes[code] = (stats.closes[code] ?? 0) + 1;
          done();
        });
        const pump = () => {
          if (ws.readyState !== WebSocket.OPEN) return;
          if (performance.now() >= end) {
            ws.terminate();
            return;
          }
          // A batch per turn: the server drains the socket concurrently, so
          // topping it up until full could spin forever in one turn.
          for (let i = 0; i < FLOODER_BATCH && ws.bufferedAmount < FLOODER_BUFFER_BYTES; i++) {
            ws.send(signal);
            stats.sent++;
          }
          setImmediate(pump);
        };
        pump();
      });
      await sleep(RECONNECT_DELAY_MS);
    }
  });
  await Promise.all(flooders);
  return stats;
}

async function runFlooderProcess(
  params: { url: string; targetPeerId: string },
  onStart: () => void,
): Promise<FlooderStats> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--flooders'], {
    cwd: join(here, '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ABUSE_FLOODERS: JSON.stringify(params) },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on('line', (line) => {
      const msg = JSON.parse(line) as FlooderStats | { started: true };
      if ('started' in msg) onStart();
      else resolve(msg);
    });
    child.once('exit', (code) => reject(new Error(`flooders exited (${code}) without stats`)));
  });
}

/**
 * One flood run. With `floodElsewhere` (the control), the flooders and their
 * target use a second server child and the pair's server sees no flood at
 * all: what is left of the pair's latency is this machine's CPU contention.
 */
async function flood(label: string, options: SignalingServerOptions, floodElsewhere = false) {
  const server = await startServer(options);
  const floodServer = floodElsewhere ? await startServer(options) : server;
  const [targetId, aId, bId] = (await Promise.all([
    generateIdentity(),
    generateIdentity(),
    generateIdentity(),
  ])) as [Identity, Identity, Identity];
  const target = await joined(floodServer.url, TARGET_ADDRESS, 'victim', targetId);
  let targetReceived = 0;
  target.on('message', () => targetReceived++);
  const a = await joined(server.url, BYSTANDER, 'calm', aId);
  const b = await joined(server.url, BYSTANDER, 'calm', bId);
  let phase: 'baseline' | 'flood' = 'baseline';
  const latencies: Record<'baseline' | 'flood', number[]> = { baseline: [], flood: [] };
  b.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as { type: string; data?: { candidate?: { candidate: string } } };
    const text = msg.data?.candidate?.candidate;
    if (msg.type === 'signal' && text?.startsWith('t=')) {
      const [, sentPhase, sentAt] = text.split('=')[1]?.split(':') ?? [];
      const lat = performance.now() - Number(sentAt);
      if (sentPhase === 'baseline' || sentPhase === 'flood') latencies[sentPhase].push(lat);
    }
  });
  const pair = setInterval(() => {
    const text = `t=x:${phase}:${performance.now()}`;
    a.send(`{"type":"signal","to":"${bId.peerId}","data":${candidate(text)}}`);
  }, 1000 / PAIR_SIGNALS_PER_S);
  await sleep(BASELINE_DURATION_MS);
  let receivedBefore = 0;
  const flooderRun = await runFlooderProcess({ url: floodServer.url, targetPeerId: targetId.peerId }, () => {
    phase = 'flood';
    receivedBefore = targetReceived;
  });
  const targetDuringFlood = targetReceived - receivedBefore;
  clearInterval(pair);
  await sleep(500);
  for (const ws of [target, a, b]) ws.terminate();
  await server.stop();
  if (floodServer !== server) await floodServer.stop();
  const budget = options.addressBudgets?.message ?? { ratePerS: 2_000, burst: 6_000 };
  const result = {
    label,
    flooders: FLOODERS,
    floodS: FLOOD_DURATION_MS / 1000,
    flooderMessagesSent: flooderRun.sent,
    flooderConnects: flooderRun.connects,
    flooderConnectsRefusedOrFailed: flooderRun.refusedOrFailed,
    flooderCloses: flooderRun.closes,
    targetReceived: targetDuringFlood,
    targetReceivedPerS: Math.round(targetDuringFlood / (FLOOD_DURATION_MS / 1000)),
    addressMessageBudget: budget.burst + budget.ratePerS * (FLOOD_DURATION_MS / 1000),
    pairLatencyMs: { baseline: summary(latencies.baseline), flood: summary(latencies.flood) },
  };
  log(JSON.stringify(result));
  return result;
}

if (process.argv.includes('--flooders')) {
  const stats = await runFlooders(JSON.parse(process.env.ABUSE_FLOODERS ?? '{}'));
  process.stdout.write(`${JSON.stringify(stats)}\n`);
  process.exit(0);
}

const hard = setTimeout(() => {
  log(`hard timeout after ${HARD_TIMEOUT_MS} ms`);
  process.exit(2);
}, HARD_TIMEOUT_MS);
hard.unref();

const loadBefore = loadavg();
const halfOpenRuns = [
  await halfOpen('budgets (defaults)', {}, HALF_OPEN_TOTAL, false),
  await halfOpen(
    'lifted (60 s header timeout, no pending or socket cap)',
    { ...LIFTED_OPTIONS, upgradeTimeoutMs: 60_000 },
    HALF_OPEN_TOTAL_LIFTED,
    true,
  ),
];
const floodRuns = [
  await flood('budgets (defaults)', {}),
  await flood('lifted', LIFTED_OPTIONS),
  await flood('control: budgets, the flood on another server child', {}, true),
];
const result = {
  date: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    loadAverage1mBefore: loadBefore[0],
    loadAverage1mAfter: loadavg()[0],
    node: process.version,
  },
  halfOpen: halfOpenRuns,
  flood: floodRuns,
};
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, 'signaling-abuse.json');
writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
log(`wrote ${outFile}`);
process.exit(0);
