/**
 * The abuse benchmark's flood scenario (abuse.ts): FLOODERS clients from the
 * attacker address join the target's room and send it signals as fast as
 * their sockets take them, reconnecting after every close, while a
 * well-behaved pair on the bystander address relays paced signals in its own
 * room. The flooders run in a process of their own (abuse.ts --flooders).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateIdentity, type Identity, joinChallengeBytes, toHex } from '@peerbench/protocol';
import WebSocket from 'ws';
import type { SignalingServerOptions } from '../src/index.js';
import { ATTACKER, BYSTANDER, log, sleep, summary, TARGET_ADDRESS } from './abuse-common.js';
import { children, startServerChild } from './server-process.js';

const here = fileURLToPath(new URL('.', import.meta.url));

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
export async function runFlooders({
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
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'abuse.ts'), '--flooders'], {
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
export async function flood(label: string, options: SignalingServerOptions, floodElsewhere = false) {
  const server = await startServerChild(options, 5_000);
  const floodServer = floodElsewhere ? await startServerChild(options, 5_000) : server;
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
