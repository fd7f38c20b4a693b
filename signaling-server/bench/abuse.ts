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
 * (a hard timeout kills the run).
 *
 * The flood scenario is in abuse-flood.ts; the server child in server-process.ts.
 *
 * Writes $PEERBENCH_BENCH_DIR/signaling-abuse.json (default <repo>/bench-results).
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { benchEntry } from '@peerbench/protocol/bench-entry';
import type { SignalingServerOptions } from '../src/index.js';
import { ATTACKER, BYSTANDER, log, sleep, summary, TARGET_ADDRESS } from './abuse-common.js';
import { flood, runFlooders } from './abuse-flood.js';
import { startServerChild } from './server-process.js';

const { writeResult } = benchEntry(import.meta.url, { hardTimeoutMs: 240_000 });

const HALF_OPEN_TOTAL = 20_000;
/** Lifted limits hold every socket for 60 s: fewer, all at once, within this process's descriptors. */
const HALF_OPEN_TOTAL_LIFTED = 4_000;
const HALF_OPEN_OUTSTANDING = 1_000;
const HEALTH_POLL_MS = 50;
const HEALTH_TIMEOUT_MS = 2_000;
const LIFTED = { ratePerS: 1_000_000, burst: 1_000_000 };
const LIFTED_OPTIONS: SignalingServerOptions = {
  maxPendingSocketsPerIp: 1_000_000,
  maxOpenSockets: 1_000_000,
  addressBudgets: { connection: LIFTED, message: LIFTED, join: LIFTED, tx: LIFTED },
};

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
  const server = await startServerChild(options, 5_000);
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

if (process.argv.includes('--flooders')) {
  const stats = await runFlooders(JSON.parse(process.env.ABUSE_FLOODERS ?? '{}'));
  process.stdout.write(`${JSON.stringify(stats)}\n`);
  process.exit(0);
}

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
writeResult('signaling-abuse.json', result);
process.exit(0);
