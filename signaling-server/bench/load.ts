/**
 * Bounded load test of the signaling server, on 127.0.0.1 only:
 * 2,000 WebSocket clients in 100 rooms relaying signals.
 *
 * Phases, side by side in one run against one server process:
 *   idle      one pair ping-pongs on an otherwise empty server (the baseline)
 *   paced     clients send at fixed aggregate rates (several phases) to random room mates
 *   saturated closed loop: each client sends its next signal as soon as its
 *             previous one arrived, so 2,000 are always in flight (max msgs/s)
 * Relay latency = receive time − send time, both read from performance.now()
 * in this one process. Server RSS is sampled from its /metrics and its
 * /proc/<pid>/status (peak, VmHWM).
 *
 * Writes $PEERBENCH_BENCH_DIR/signaling-server.json (default <repo>/bench-results).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateIdentity, type Identity, joinChallengeBytes, toHex } from '@peerbench/protocol';
import WebSocket from 'ws';
import { cpuMsOf, procStatusKiB, serverRssBytes, startServerChild } from './server-process.js';

// `--help` answers without running the benchmark (the README entry-point test runs it).
if (process.argv.includes('--help')) {
  console.log(
    'usage: pnpm --filter @peerbench/signaling-server bench\n  2,000 WebSocket clients in 100 rooms on 127.0.0.1: idle, paced and saturated relay latency and server RSS → $PEERBENCH_BENCH_DIR/signaling-server.json',
  );
  process.exit(0);
}

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 2_000);
const ROOMS = Number(process.env.BENCH_ROOMS ?? 100);
const CONNECT_CONCURRENCY = 100;
const IDLE_ROUND_TRIPS = 500;
/**
 * Aggregate offered rates, one phase each. Real signaling is bursty at join
 * time and near silent afterwards; 1,000 msgs/s from 2,000 peers is already a
 * heavy steady state, 4,000/s an overload test on a 2-core machine.
 */
const PACED_RATES_MSGS_PER_S = [500, 1_000, 2_000, 4_000];
const PACED_DURATION_MS = 5_000;
/** The phase the p99 target is judged on. */
const TARGET_PACED_RATE_MSGS_PER_S = 1_000;
/** Between phases, wait (bounded) until every message sent has arrived. */
const SETTLE_TIMEOUT_MS = 15_000;
const SATURATED_DURATION_MS = 8_000;
/** The whole run is killed after this, whatever happens. */
const HARD_TIMEOUT_MS = 180_000;
const RSS_SAMPLE_MS = 500;
const TARGET_P99_MS = 50;
const TARGET_RSS_MIB = 300;
const MIB = 1024 * 1024;

const here = fileURLToPath(new URL('.', import.meta.url));
const outDir = process.env.PEERBENCH_BENCH_DIR ?? join(here, '..', '..', 'bench-results');

const log = (s: string) => process.stderr.write(`[signaling bench] ${s}\n`);

interface Client {
  readonly index: number;
  readonly room: number;
  readonly ws: WebSocket;
  readonly identity: Identity;
  mates: number[];
}

type OnSignal = (to: Client, fromIndex: number, sentAtMs: number) => void;
let onSignal: OnSignal = () => {};

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

class Latencies {
  private values = new Float64Array(1 << 16);
  private n = 0;
  add(ms: number): void {
    if (this.n === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = ms;
  }
  get count(): number {
    return this.n;
  }
  summary() {
    const sorted = this.values.slice(0, this.n).sort();
    const round = (x: number) => Math.round(x * 1000) / 1000;
    return {
      count: this.n,
      p50Ms: round(percentile(sorted, 50)),
      p90Ms: round(percentile(sorted, 90)),
      p99Ms: round(percentile(sorted, 99)),
      p999Ms: round(percentile(sorted, 99.9)),
      maxMs: round(sorted[sorted.length - 1] ?? Number.NaN),
    };
  }
}

function sendSignal(from: Client, to: Client): void {
  const candidate = `bench ${from.index} ${performance.now()}`;
  from.ws.send(
    `{"type":"signal","to":"${to.identity.peerId}","data":{"type":"candidate","candidate":{"candidate":"${candidate}","sdpMid":"0"}}}`,
  );
}

async function connectClient(url: string, index: number, room: number, identity: Identity): Promise<Client> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const client: Client = { index, room, ws, identity, mates: [] };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`client ${index} did not join in time`)), 30_000);
    ws.on('error', (err) => reject(err));
    ws.on('message', async (data) => {
      const msg = JSON.parse(data.toString()) as {
        type: string;
        nonce?: string;
        from?: string;
        code?: string;
        data?: { candidate?: { candidate?: string } };
      };
      if (msg.type === 'signal') {
        const parts = msg.data?.candidate?.candidate?.split(' ') ?? [];
        onSignal(client, Number(parts[1]), Number(parts[2]));
      } else if (msg.type === 'challenge' && msg.nonce) {
        const roomName = `bench-room-${room}`;
        const signature = toHex(await identity.sign(joinChallengeBytes(roomName, msg.nonce)));
        ws.send(JSON.stringify({ type: 'join', room: roomName, peerId: identity.peerId, signature }));
      } else if (msg.type === 'welcome') {
        clearTimeout(timer);
        resolve();
      } else if (msg.type === 'error') {
        // Before the welcome this fails the join; after it, it is counted
        // from the server's /metrics (rejected messages by code).
        reject(new Error(`client ${index}: error ${msg.code}`));
      }
    });
  });
  return client;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const hardTimer = setTimeout(() => {
    log(`hard timeout of ${HARD_TIMEOUT_MS} ms reached; aborting`);
    process.exit(2);
  }, HARD_TIMEOUT_MS);
  hardTimer.unref();

  const server = await startServerChild();
  log(`server ${server.url} (pid ${server.pid})`);
  let peakRss = 0;
  const rssTimer = setInterval(() => {
    serverRssBytes(server.httpUrl).then(
      (rss) => {
        if (rss > peakRss) peakRss = rss;
      },
      () => {},
    );
  }, RSS_SAMPLE_MS);
  const rssIdle = await serverRssBytes(server.httpUrl);

  try {
    // ---- connect and join ----------------------------------------------------
    const identities = await Promise.all(Array.from({ length: CLIENTS }, () => generateIdentity()));
    const clients: Client[] = [];
    const joinStart = performance.now();
    for (let i = 0; i < CLIENTS; i += CONNECT_CONCURRENCY) {
      const batch = [];
      for (let j = i; j < Math.min(CLIENTS, i + CONNECT_CONCURRENCY); j++)
        batch.push(connectClient(server.url, j, j % ROOMS, identities[j] as Identity));
      clients.push(...(await Promise.all(batch)));
      if ((i / CONNECT_CONCURRENCY) % 5 === 4) log(`joined ${clients.length}/${CLIENTS}`);
    }
    const joinS = (performance.now() - joinStart) / 1000;
    for (const c of clients)
      c.mates = clients.filter((o) => o.room === c.room && o !== c).map((o) => o.index);
    const mateOf = (c: Client) =>
      clients[c.mates[Math.floor(Math.random() * c.mates.length)] as number] as Client;
    const rssJoined = await serverRssBytes(server.httpUrl);
    log(`all ${CLIENTS} joined in ${joinS.toFixed(1)} s; server RSS ${(rssJoined / MIB).toFixed(0)} MiB`);

    // ---- idle baseline: one pair, nothing else going on ---------------------
    const idle = new Latencies();
    {
      const [p, q] = [clients[0] as Client, clients[ROOMS] as Client]; // same room
      let left = IDLE_ROUND_TRIPS;
      await new Promise<void>((resolve) => {
        onSignal = (to, _from, sentAt) => {
          idle.add(performance.now() - sentAt);
          if (--left <= 0) return resolve();
          sendSignal(to, to === p ? q : p);
        };
        sendSignal(p, q);
      });
    }
    log(`idle: p50 ${idle.summary().p50Ms} ms`);

    // ---- paced: fixed aggregate rates over all clients -----------------------
    const pacedPhases = [];
    for (const rate of PACED_RATES_MSGS_PER_S) {
      const paced = new Latencies();
      let sent = 0;
      onSignal = (_to, _from, sentAt) => paced.add(performance.now() - sentAt);
      const cpu = cpuMsOf(server.pid);
      const start = performance.now();
      let cursor = 0;
      while (performance.now() - start < PACED_DURATION_MS) {
        const due = Math.floor(((performance.now() - start) / 1000) * rate);
        while (sent < due) {
          const from = clients[cursor++ % CLIENTS] as Client;
          sendSignal(from, mateOf(from));
          sent++;
        }
        await delay(10);
      }
      const sendingS = (performance.now() - start) / 1000;
      const settleStart = performance.now();
      while (paced.count < sent && performance.now() - settleStart < SETTLE_TIMEOUT_MS) await delay(20);
      const cpuMs = cpu();
      const summary = paced.summary();
      log(`paced ${rate}/s: p50 ${summary.p50Ms} ms, p99 ${summary.p99Ms} ms`);
      pacedPhases.push({
        offeredMsgsPerS: rate,
        durationMs: PACED_DURATION_MS,
        sent,
        received: paced.count,
        achievedMsgsPerS: Math.round(sent / sendingS),
        ...summary,
        serverCpuUsPerMsg: round((cpuMs.serverCpuMs * 1000) / Math.max(1, paced.count)),
        loadGeneratorCpuUsPerMsg: round((cpuMs.loadGeneratorCpuMs * 1000) / Math.max(1, paced.count)),
        p99TargetMet: summary.p99Ms < TARGET_P99_MS,
      });
    }
    const targetPhase = pacedPhases.find((p) => p.offeredMsgsPerS === TARGET_PACED_RATE_MSGS_PER_S);

    // ---- saturated: closed loop, one message in flight per client -----------
    const saturated = new Latencies();
    let saturatedSending = true;
    let saturatedSent = 0;
    const satStart = performance.now();
    const satCpu = cpuMsOf(server.pid);
    onSignal = (_to, fromIndex, sentAt) => {
      saturated.add(performance.now() - sentAt);
      if (!saturatedSending) return;
      const from = clients[fromIndex] as Client;
      sendSignal(from, mateOf(from));
      saturatedSent++;
    };
    for (const c of clients) {
      sendSignal(c, mateOf(c));
      saturatedSent++;
    }
    await delay(SATURATED_DURATION_MS);
    saturatedSending = false;
    const satElapsedS = (performance.now() - satStart) / 1000;
    const satReceivedAtStop = saturated.count;
    const satCpuMs = satCpu();
    const settleStart = performance.now();
    while (saturated.count < saturatedSent && performance.now() - settleStart < SETTLE_TIMEOUT_MS)
      await delay(20);
    const saturatedSummary = saturated.summary();
    const saturatedRate = satReceivedAtStop / satElapsedS;
    log(
      `saturated: ${saturatedRate.toFixed(0)} msgs/s, p50 ${saturatedSummary.p50Ms} ms, p99 ${saturatedSummary.p99Ms} ms`,
    );

    const metricsText = await (await fetch(`${server.httpUrl}/metrics`)).text();
    const relayed = Number(/^peerbench_signaling_relayed_messages_total (\d+)$/m.exec(metricsText)?.[1]);
    const rejected = [
      ...metricsText.matchAll(/^peerbench_signaling_rejected_messages_total\{code="([^"]+)"\} (\d+)$/gm),
    ]
      .filter((m) => m[2] !== '0')
      .map((m) => ({ code: m[1], count: Number(m[2]) }));
    const rssEnd = await serverRssBytes(server.httpUrl);
    peakRss = Math.max(peakRss, rssEnd);
    const hwmKiB = procStatusKiB(server.pid, 'VmHWM');

    for (const c of clients) c.ws.terminate();
    const peakRssMiB = Math.max(peakRss, (hwmKiB ?? 0) * 1024) / MIB;
    const result = {
      benchmark: 'signaling-server load',
      host: '127.0.0.1',
      clients: CLIENTS,
      rooms: ROOMS,
      peersPerRoom: CLIENTS / ROOMS,
      machine: { cpus: cpus().length, loadAverage1m: loadavg()[0], node: process.version },
      joinAllSeconds: round(joinS),
      idle: idle.summary(),
      paced: pacedPhases,
      saturated: {
        inFlight: CLIENTS,
        durationMs: SATURATED_DURATION_MS,
        sent: saturatedSent,
        received: saturated.count,
        msgsPerS: Math.round(saturatedRate),
        ...saturatedSummary,
        serverCpuUsPerMsg: round((satCpuMs.serverCpuMs * 1000) / Math.max(1, satReceivedAtStop)),
        loadGeneratorCpuUsPerMsg: round(
          (satCpuMs.loadGeneratorCpuMs * 1000) / Math.max(1, satReceivedAtStop),
        ),
        /** What the server alone could relay if it had one core to itself. */
        serverBoundMsgsPerSPerCore: Math.round(
          satReceivedAtStop / Math.max(1e-9, satCpuMs.serverCpuMs / 1000),
        ),
      },
      ratios: {
        targetPacedP50OverIdleP50: round((targetPhase?.p50Ms ?? Number.NaN) / idle.summary().p50Ms),
        saturatedP99OverTargetPacedP99: round(saturatedSummary.p99Ms / (targetPhase?.p99Ms ?? Number.NaN)),
      },
      server: {
        rssIdleMiB: round(rssIdle / MIB),
        rssJoinedMiB: round(rssJoined / MIB),
        rssPeakMiB: round(peakRssMiB),
        relayedMessagesTotal: relayed,
        rejectedMessages: rejected,
      },
      targets: {
        p99Ms: TARGET_P99_MS,
        rssMiB: TARGET_RSS_MIB,
        judgedAtPacedMsgsPerS: TARGET_PACED_RATE_MSGS_PER_S,
        pacedP99Met: targetPhase?.p99TargetMet ?? false,
        rssMet: peakRssMiB < TARGET_RSS_MIB,
      },
    };
    mkdirSync(outDir, { recursive: true });
    const outFile = join(outDir, 'signaling-server.json');
    writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${outFile}`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    clearInterval(rssTimer);
    await server.stop();
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
