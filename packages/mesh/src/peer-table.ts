/**
 * PeerMesh's table of remote peers (peer-mesh.ts): one PeerEntry per peer it
 * links, is linking or will re-link to, and the ways an entry's RPC session
 * and link end. The mesh decides when (glare, presence, neighbourhood); this
 * keeps the bookkeeping of what ending means in one place: the session's
 * pending requests fail with the given code, and `onDisconnected` runs once
 * for a session that was open.
 */
import { RpcError } from '@peerbench/protocol';
import { newPeerEntry, type PeerEntry } from './peer-entry.js';
import type { RpcSession } from './rpc-session.js';

export class PeerTable {
  private readonly entries = new Map<string, PeerEntry>();

  /** @param onDisconnected a peer's RPC session closed (it had one). */
  constructor(private readonly onDisconnected: (peerId: string) => void) {}

  get(peerId: string): PeerEntry | undefined {
    return this.entries.get(peerId);
  }

  has(peerId: string): boolean {
    return this.entries.has(peerId);
  }

  /** The entry of `peerId`, created empty if there is none. */
  ensure(peerId: string): PeerEntry {
    let e = this.entries.get(peerId);
    if (!e) {
      e = newPeerEntry();
      this.entries.set(peerId, e);
    }
    return e;
  }

  /** Removes the entry without touching its link (the caller has ended it). */
  delete(peerId: string): void {
    this.entries.delete(peerId);
  }

  [Symbol.iterator](): IterableIterator<[string, PeerEntry]> {
    return this.entries.entries();
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Peers with an open data channel. */
  connectedPeers(): string[] {
    const out: string[] = [];
    for (const [id, e] of this.entries) if (e.session?.isOpen) out.push(id);
    return out;
  }

  /**
   * Peers holding a place: entries with a connection, and `alsoCount` (a
   * neighbourhood's pending link requests, which have no entry until the
   * other side's offer arrives), each peer once.
   */
  linkCount(alsoCount: Iterable<string> = []): number {
    const ids = new Set(alsoCount);
    for (const [id, e] of this.entries) if (e.connection) ids.add(id);
    return ids.size;
  }

  /** The open RPC session to `peerId`; RpcError `peer-gone` when there is none. */
  openSession(peerId: string): RpcSession {
    const session = this.entries.get(peerId)?.session;
    if (!session?.isOpen) throw new RpcError('peer-gone', `not connected to ${peerId.slice(0, 8)}`);
    return session;
  }

  /**
   * Takes the link and the RPC session off `e`, destroys the link (unless it
   * closed by itself: `linkClosed`) and closes the session: its pending
   * requests fail with `code`, and onDisconnected runs if there was one.
   */
  endLink(
    peerId: string,
    e: PeerEntry,
    reason: string,
    opts: { code?: 'peer-gone' | 'cancelled'; linkClosed?: boolean } = {},
  ): void {
    const { connection, session } = e;
    e.connection = undefined;
    e.session = undefined;
    if (!opts.linkClosed) connection?.destroy(reason);
    if (session) {
      session.close(opts.code ?? 'peer-gone', reason);
      this.onDisconnected(peerId);
    }
  }

  /** Removes the entry of `peerId` and returns it, its timers cleared; its link is left to endLink. */
  take(peerId: string): PeerEntry | undefined {
    const e = this.entries.get(peerId);
    if (!e) return undefined;
    this.entries.delete(peerId);
    if (e.retryTimer) clearTimeout(e.retryTimer);
    if (e.connectTimer) clearTimeout(e.connectTimer);
    return e;
  }
}
