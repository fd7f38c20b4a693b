/**
 * One big room (issue 14): 2,000 members join ONE room of the real server
 * (its own process, 127.0.0.1), 100 joins in flight at a time. Recorded:
 *   - join-to-welcome latency (join sent → welcome received), p50/p99/max;
 *   - the welcome's size in bytes (bounded by the sample size, not the room);
 *   - presence messages (peer-joined/peer-left) all members received while
 *     the room filled: with full-list presence this was O(n²), ~2M here;
 *   - `sample` round trips once the room is full;
 *   - server RSS (idle, joined, peak) and the load average.
 * Writes $PEERBENCH_BENCH_DIR/signaling-one-room.json (default <repo>/bench-results).
 */
import { cpus, loadavg } from 'node:os';
import { generateIdentity, type Identity, joinChallengeBytes, toHex } from '@peerbench/protocol';
import { benchEntry } from '@peerbench/protocol/bench-entry';
import WebSocket from 'ws';
import { DEFAULT_PRESENCE_SAMPLE_SIZE } from '../src/presence.js';
import { serverRssBytes, startServerChild } from './server-process.js';

const { log, writeResult } = benchEntry(import.meta.url, { hardTimeoutMs: 180_000 });

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 2_000);
const CONCURRENCY = 100;
const SAMPLES = 500;
const RSS_SAMPLE_MS = 250;
const ROOM = 'public';
const MIB = 1024 * 1024;
const LIFTED = { ratePerS: 1_000_000, burst: 1_000_000 };

interface Member {
  ws: WebSocket;
  welcomeMs: number;
  welcomeBytes: number;
  welcomePeers: number;
  roomSize: number;
  presenceMessages: number;
  onSample: (() => void) | undefined;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[i] ?? Number.NaN) * 1000) / 1000;
}
const summary = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return {
    count: s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s.at(-1),
  };
};

function joinOne(url: string, identity: Identity): Promise<Member> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const m: Member = {
    ws,
    welcomeMs: 0,
    welcomeBytes: 0,
    welcomePeers: 0,
    roomSize: 0,
    presenceMessages: 0,
    onSample: undefined,
  };
  let sentAt = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no welcome in 30 s')), 30_000);
    ws.on('error', reject);
    ws.on('message', async (data) => {
      const text = data.toString();
      const msg = JSON.parse(text) as {
        type: string;
        nonce?: string;
        peers?: unknown[];
        roomSize?: number;
        code?: string;
      };
      if (msg.type === 'challenge' && msg.nonce) {
        const signature = toHex(await identity.sign(joinChallengeBytes(ROOM, msg.nonce)));
        sentAt = performance.now();
        ws.send(JSON.stringify({ type: 'join', room: ROOM, peerId: identity.peerId, signature }));
      } else if (msg.type === 'welcome') {
        clearTimeout(timer);
        m.welcomeMs = performance.now() - sentAt;
        m.welcomeBytes = Buffer.byteLength(text);
        m.welcomePeers = msg.peers?.length ?? 0;
        m.roomSize = msg.roomSize ?? 0;
        resolve(m);
      } else if (msg.type === 'peer-joined' || msg.type === 'peer-left') m.presenceMessages++;
      else if (msg.type === 'sample') m.onSample?.();
      else if (msg.type === 'error') reject(new Error(`error ${msg.code}`));
    });
  });
}

async function main(): Promise<void> {
  const server = await startServerChild({
    maxConnectionsPerIp: 10_000,
    maxConnections: 10_000,
    maxPendingSocketsPerIp: 10_000,
    maxPeersPerRoom: 10_000,
    addressBudgets: { connection: LIFTED, message: LIFTED, join: LIFTED, tx: LIFTED },
  });
  let peakRss = 0;
  const rssTimer = setInterval(() => {
    serverRssBytes(server.httpUrl).then(
      (r) => {
        peakRss = Math.max(peakRss, r);
      },
      () => {},
    );
  }, RSS_SAMPLE_MS);
  const rssIdle = await serverRssBytes(server.httpUrl);
  const load1Before = loadavg()[0] ?? 0;
  try {
    const identities = await Promise.all(Array.from({ length: MEMBERS }, () => generateIdentity()));
    const members: Member[] = [];
    const start = performance.now();
    for (let i = 0; i < MEMBERS; i += CONCURRENCY) {
      const batch = identities.slice(i, i + CONCURRENCY).map((id) => joinOne(server.url, id));
      members.push(...(await Promise.all(batch)));
      if ((i / CONCURRENCY) % 5 === 4) log(`joined ${members.length}/${MEMBERS}`);
    }
    const joinS = (performance.now() - start) / 1000;
    const rssJoined = await serverRssBytes(server.httpUrl);
    const samplesMs: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const m = members[Math.floor(Math.random() * members.length)] as Member;
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        m.onSample = resolve;
        m.ws.send('{"type":"sample"}');
      });
      m.onSample = undefined;
      samplesMs.push(performance.now() - t0);
    }
    const result = {
      date: new Date().toISOString(),
      members: MEMBERS,
      joinConcurrency: CONCURRENCY,
      presenceSampleSize: DEFAULT_PRESENCE_SAMPLE_SIZE,
      allJoinedS: Math.round(joinS * 100) / 100,
      joinToWelcomeMs: summary(members.map((m) => m.welcomeMs)),
      welcomeBytes: summary(members.map((m) => m.welcomeBytes)),
      welcomePeersMax: Math.max(...members.map((m) => m.welcomePeers)),
      largestRoomSizeInAWelcome: Math.max(...members.map((m) => m.roomSize)),
      presenceMessagesReceivedTotal: members.reduce((n, m) => n + m.presenceMessages, 0),
      sampleRoundTripMs: summary(samplesMs),
      serverRssMiB: {
        idle: Math.round(rssIdle / MIB),
        joined: Math.round(rssJoined / MIB),
        peak: Math.round(Math.max(peakRss, rssJoined) / MIB),
      },
      machine: { cpus: cpus().length, loadavg1Before: load1Before, loadavgAfter: loadavg() },
      note: 'machine shared with other jobs; clients and server on one 2-core host',
    };
    writeResult('signaling-one-room.json', result);
    console.log(JSON.stringify(result, null, 2));
    for (const m of members) m.ws.terminate();
  } finally {
    clearInterval(rssTimer);
    await server.stop();
  }
}

await main();
