/**
 * The load benchmark's clients (bench/load.ts): plain `ws` sockets that sign
 * the join, remember which room mates they have been told about, and hand
 * every relayed signal (which carries its send time) to one callback; and the
 * latency samples they produce, split by kind (both peers on one instance, or
 * on two) and by the receiver's instance.
 */
import { type Identity, joinChallengeBytes, toHex } from '@peerbench/protocol';
import WebSocket from 'ws';

export const JOIN_TIMEOUT_MS = 60_000;

export interface Client {
  readonly index: number;
  readonly room: number;
  /** Index of the server instance it is connected to. */
  readonly instance: number;
  readonly ws: WebSocket;
  readonly identity: Identity;
  /** Indexes of its room mates (every instance). */
  mates: number[];
  /** Peer ids of the room's other members as this client was told (welcome, peer-joined, peer-left). */
  readonly known: Set<string>;
  closed: boolean;
}

export type OnSignal = (to: Client, fromIndex: number, sentAtMs: number) => void;

/** The callback every client's relayed signals go to; phases swap it. */
export const signals: { on: OnSignal } = { on: () => {} };

/** A signal from `from` to `to` whose ICE candidate text carries the sender and the send time. */
export function sendSignal(from: Client, to: Client): void {
  const candidate = `bench ${from.index} ${performance.now()}`;
  from.ws.send(
    `{"type":"signal","to":"${to.identity.peerId}","data":{"type":"candidate","candidate":{"candidate":"${candidate}","sdpMid":"0"}}}`,
  );
}

interface Incoming {
  type: string;
  nonce?: string;
  code?: string;
  peers?: { peerId: string }[];
  peer?: { peerId: string };
  peerId?: string;
  data?: { candidate?: { candidate?: string } };
}

/** Connects, answers the challenge with a signed join of `bench-room-<room>`; resolves on the welcome. */
export async function connectClient(
  url: string,
  index: number,
  room: number,
  instance: number,
  identity: Identity,
): Promise<Client> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const client: Client = { index, room, instance, ws, identity, mates: [], known: new Set(), closed: false };
  ws.on('close', () => {
    client.closed = true;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`client ${index} did not join in time`)),
      JOIN_TIMEOUT_MS,
    );
    ws.on('error', (err) => reject(err));
    ws.on('message', async (data) => {
      const msg = JSON.parse(data.toString()) as Incoming;
      if (msg.type === 'signal') {
        const parts = msg.data?.candidate?.candidate?.split(' ') ?? [];
        signals.on(client, Number(parts[1]), Number(parts[2]));
      } else if (msg.type === 'peer-joined' && msg.peer) client.known.add(msg.peer.peerId);
      else if (msg.type === 'peer-left' && msg.peerId) client.known.delete(msg.peerId);
      else if (msg.type === 'challenge' && msg.nonce) {
        const roomName = `bench-room-${room}`;
        const signature = toHex(await identity.sign(joinChallengeBytes(roomName, msg.nonce)));
        ws.send(JSON.stringify({ type: 'join', room: roomName, peerId: identity.peerId, signature }));
      } else if (msg.type === 'welcome') {
        for (const p of msg.peers ?? []) client.known.add(p.peerId);
        clearTimeout(timer);
        resolve();
      } else if (msg.type === 'error') {
        // Before the welcome this fails the join; after it, it is counted
        // from the servers' /metrics (rejected messages by code).
        reject(new Error(`client ${index}: error ${msg.code}`));
      }
    });
  });
  return client;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export const round = (x: number) => Math.round(x * 1000) / 1000;

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** A growable array of latency samples in ms. */
export class Latencies {
  private values = new Float64Array(1 << 12);
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
  summary(): LatencySummary {
    const sorted = this.values.slice(0, this.n).sort();
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

/** One phase's samples: all of them, by kind, and by the receiving instance. */
export class PhaseLatencies {
  readonly all = new Latencies();
  readonly within = new Latencies();
  readonly across = new Latencies();
  readonly byInstance: Latencies[];
  constructor(
    instances: number,
    private readonly clients: readonly Client[],
  ) {
    this.byInstance = Array.from({ length: instances }, () => new Latencies());
  }
  /** Records the signal `fromIndex` sent to `to` at `sentAtMs`. */
  add(to: Client, fromIndex: number, sentAtMs: number): void {
    const ms = performance.now() - sentAtMs;
    this.all.add(ms);
    const from = this.clients[fromIndex];
    (from && from.instance !== to.instance ? this.across : this.within).add(ms);
    this.byInstance[to.instance]?.add(ms);
  }
  get count(): number {
    return this.all.count;
  }
  /** The overall summary, with the split when there is more than one instance. */
  summary() {
    const all = this.all.summary();
    if (this.byInstance.length < 2) return all;
    return {
      ...all,
      within: this.within.summary(),
      across: this.across.summary(),
      byReceivingInstance: this.byInstance.map((l) => l.summary()),
    };
  }
}
