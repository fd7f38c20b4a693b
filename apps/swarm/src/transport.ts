/**
 * How the swarm's participants reach each other: packages/peer's in-memory
 * hub (default: deterministic, and its copies cost < 1 % of a step) or the
 * WebRTC mesh the browser uses (joinNetwork over @roamhq/wrtc, signaling through
 * a real server on 127.0.0.1 or the one given by --server). Thin adapters: the
 * Peer sees an ExpertNetwork either way.
 */

import {
  type ExpertNetwork,
  InMemoryHub,
  joinNetwork,
  type LedgerTransport,
  type NetworkSession,
} from '@peerbench/mesh';
import type { Identity } from '@peerbench/protocol';
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';

export interface SwarmTransport {
  readonly name: string;
  /** Joins a participant; resolves with its ExpertNetwork. */
  connect(identity: Identity): Promise<ExpertNetwork>;
  /** The participant's ledger transport over its signaling socket (webrtc only: used with --server). */
  ledgerOf(peerId: string): LedgerTransport | undefined;
  /** Takes a participant off the network (churn: its tab closed). */
  disconnect(peerId: string): Promise<void>;
  /** Resolves once every joined participant is linked to every other (or rejects after timeoutMs). */
  settle(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export class MemoryTransport implements SwarmTransport {
  readonly name = 'memory (packages/peer InMemoryHub)';
  private readonly hub: InMemoryHub;

  /** `maxLinks`: bounded neighbourhoods of at most that many links per peer (issue 14); null: full mesh. */
  constructor(maxLinks: number | null = null) {
    this.hub = new InMemoryHub(maxLinks === null ? {} : { maxLinks });
  }

  async connect(identity: Identity): Promise<ExpertNetwork> {
    return this.hub.join(identity.peerId);
  }

  ledgerOf(): LedgerTransport | undefined {
    return undefined;
  }

  async disconnect(peerId: string): Promise<void> {
    this.hub.leave(peerId);
  }

  async settle(): Promise<void> {}

  async stop(): Promise<void> {
    for (const id of this.hub.ids()) this.hub.leave(id);
  }
}

/** Time to wait for every WebRTC link before giving up, per participant pair set. */
export const MESH_SETTLE_TIMEOUT_MS = 60_000;

export class WebRtcTransport implements SwarmTransport {
  readonly name: string;
  private readonly sessions = new Map<string, NetworkSession>();

  constructor(
    readonly signalingUrl: string,
    readonly room: string,
  ) {
    this.name = `webrtc (joinNetwork + @roamhq/wrtc, signaling ${signalingUrl}, room ${room})`;
  }

  async connect(identity: Identity): Promise<ExpertNetwork> {
    const session = joinNetwork({
      signalingUrl: this.signalingUrl,
      room: this.room,
      identity,
      wrtc,
      WebSocket,
    });
    await session.joined;
    this.sessions.set(identity.peerId, session);
    return session.experts;
  }

  ledgerOf(peerId: string): LedgerTransport | undefined {
    return this.sessions.get(peerId)?.ledger;
  }

  async disconnect(peerId: string): Promise<void> {
    const session = this.sessions.get(peerId);
    this.sessions.delete(peerId);
    await session?.stop();
  }

  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const ids = [...this.sessions.keys()];
    const linked = () =>
      [...this.sessions.values()].every((s) => {
        const c = new Set(s.experts.peers());
        return ids.every((id) => id === s.peerId || c.has(id));
      });
    while (!linked()) {
      if (Date.now() > deadline)
        throw new Error(
          `webrtc: not every pair of the ${ids.length} participants linked within ${timeoutMs} ms`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.stop().catch(() => undefined)));
  }
}
