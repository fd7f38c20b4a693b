/**
 * What the signaling client knows of its room: the members it was told about
 * (a random sample in a big room, everyone in a small one) and the room's
 * size, kept from `welcome`, `sample`, `peer-joined`, `peer-left` and signals.
 */
import type { PeerInfo } from '@peerbench/protocol';

export class RoomPresence {
  private readonly members = new Map<string, PeerInfo>();
  private size: number | null = null;

  constructor(private readonly selfId: string) {}

  /** Room members other than this peer, as last told by the server. */
  peers(): PeerInfo[] {
    return [...this.members.values()];
  }

  has(peerId: string): boolean {
    return this.members.has(peerId);
  }

  /** Members of the room (this peer included) as of the latest welcome or sample; null before joining. */
  get roomSize(): number | null {
    return this.size;
  }

  /** A welcome replaces everything known; returns the room's size. */
  welcomed(peers: readonly PeerInfo[], roomSize: number | undefined): number {
    this.size = roomSize ?? peers.length + 1;
    this.members.clear();
    this.add(peers);
    return this.size;
  }

  sampled(peers: readonly PeerInfo[], roomSize: number): void {
    this.size = roomSize;
    this.add(peers);
  }

  /** False for this peer itself (nothing to announce). */
  joined(peer: PeerInfo): boolean {
    if (peer.peerId === this.selfId) return false;
    if (!this.members.has(peer.peerId) && this.size !== null) this.size++;
    this.members.set(peer.peerId, peer);
    return true;
  }

  left(peerId: string): void {
    // Exact in a small room; in a big one the next sample corrects it.
    if (this.members.delete(peerId) && this.size !== null) this.size = Math.max(1, this.size - 1);
  }

  /**
   * A signal came from `peerId`. The server only relays within a room; a
   * signal from a peer not heard of yet can race its peer-joined: record it.
   */
  signalFrom(peerId: string): void {
    if (!this.members.has(peerId)) this.members.set(peerId, { peerId, joinedAtMs: Date.now() });
  }

  clear(): void {
    this.members.clear();
  }

  private add(peers: readonly PeerInfo[]): void {
    for (const p of peers) if (p.peerId !== this.selfId) this.members.set(p.peerId, p);
  }
}
