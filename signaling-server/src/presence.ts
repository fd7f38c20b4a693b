/**
 * Presence that scales: who in a room is told about whom.
 *
 * A join is answered with a bounded random sample of the room (not its full
 * list), and a member may ask for another sample (`sample`). Presence changes
 * are pushed only where they matter:
 *   - `peer-left` goes to the members that were told about the leaver (in a
 *     sample, a `peer-joined`, or because they exchanged signals with it), so
 *     a peer learns that a candidate or a neighbour is gone, and nobody else
 *     pays for it;
 *   - `peer-joined` goes to every member while the whole room fits in one
 *     sample (then a sample is the full list anyway, and small rooms behave
 *     as they always did); beyond that, to a uniform random sample of
 *     members (as many as a sample holds): a join costs O(sample) messages,
 *     not O(room), and a newcomer is still heard of by some members at once
 *     (they may link to it, or explore it). Everyone else learns of it from
 *     a fresh sample when it wants new candidates.
 * PresenceBook keeps the "told about" relation of one room, bounded per
 * member (MAX_KNOWN_PEERS_PER_MEMBER, oldest forgotten first).
 */
import type { PeerInfo } from '@peerbench/protocol';

/** Members in a welcome or a `sample` answer unless the server is told otherwise. */
export const DEFAULT_PRESENCE_SAMPLE_SIZE = 32;
/** Peer ids one member is remembered to know (for peer-left); beyond it the oldest is forgotten. */
export const MAX_KNOWN_PEERS_PER_MEMBER = 1_024;

/** Who was told about whom in one room (both directions, so either side is dropped in O(its entries)). */
export class PresenceBook<C> {
  /** peer id → the members told about it. */
  private readonly watchers = new Map<string, Set<C>>();
  /** member → the peer ids it was told about, oldest first. */
  private readonly known = new Map<C, Set<string>>();

  constructor(private readonly maxKnownPerMember = MAX_KNOWN_PEERS_PER_MEMBER) {}

  /** `member` now knows `peerIds` (refreshes them as the newest). */
  tell(member: C, peerIds: Iterable<string>): void {
    let ids = this.known.get(member);
    if (!ids) {
      ids = new Set();
      this.known.set(member, ids);
    }
    for (const id of peerIds) {
      ids.delete(id);
      ids.add(id);
      let w = this.watchers.get(id);
      if (!w) {
        w = new Set();
        this.watchers.set(id, w);
      }
      w.add(member);
    }
    while (ids.size > this.maxKnownPerMember) {
      const oldest = ids.values().next().value as string;
      ids.delete(oldest);
      this.unwatch(oldest, member);
    }
  }

  /** The members told about `peerId`. */
  watchersOf(peerId: string): C[] {
    return [...(this.watchers.get(peerId) ?? [])];
  }

  /** `peerId` left: nobody needs to hear about it again. */
  dropPeer(peerId: string): void {
    const w = this.watchers.get(peerId);
    if (!w) return;
    this.watchers.delete(peerId);
    for (const member of w) this.known.get(member)?.delete(peerId);
  }

  /** `member` left: forget what it knew. */
  dropMember(member: C): void {
    const ids = this.known.get(member);
    if (!ids) return;
    this.known.delete(member);
    for (const id of ids) this.unwatch(id, member);
  }

  /** Entries held (for tests: bounded by members × maxKnownPerMember). */
  size(): number {
    let n = 0;
    for (const ids of this.known.values()) n += ids.size;
    return n;
  }

  private unwatch(peerId: string, member: C): void {
    const w = this.watchers.get(peerId);
    if (!w) return;
    w.delete(member);
    if (w.size === 0) this.watchers.delete(peerId);
  }
}

/**
 * A uniform random sample of at most `k` of `members` (reservoir sampling,
 * one pass) and how many there were. O(room) time, O(k) memory.
 */
export function samplePresence<T = PeerInfo>(
  members: Iterable<T>,
  k: number,
  random: () => number = Math.random,
): { peers: T[]; count: number } {
  const peers: T[] = [];
  let count = 0;
  for (const p of members) {
    count++;
    if (peers.length < k) peers.push(p);
    else {
      const j = Math.floor(random() * count);
      if (j < k) peers[j] = p;
    }
  }
  return { peers, count };
}
