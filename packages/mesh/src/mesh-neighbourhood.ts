/**
 * The WebRTC mesh's Neighbourhood (neighbourhood.ts; issue 14): with
 * `neighbourhood: { maxLinks }` in PeerMesh's options, links form only when
 * this peer (or the other side) asks, at most maxLinks each, and a link that
 * ends is not re-formed by the mesh.
 *
 * Who offers: still only the lower id sends SDP offers (no glare). So
 * `link(id)` from the lower id offers at once; from the higher id it asks the
 * lower one for an offer (simple-peer's `renegotiate` signal, which the
 * relink logic already uses). The side that will not hold the link answers
 * with a `link-refused` signal (`full`), and `link` resolves false at once
 * rather than at the connect deadline. `unlink` sends `link-refused`
 * (`unlinked`) and closes the connection: the other side forgets the peer
 * whichever of the two it notices first.
 *
 * Candidates come from the signaling server's presence samples (the welcome,
 * then `sample` answers), plus whoever linked to us.
 */
import type { SignalData } from '@peerbench/protocol';
import type { Neighbourhood, NeighbourhoodCandidates } from './neighbourhood.js';
import type { SignalingClient } from './signaling-client.js';

/** What the mesh lets its neighbourhood do (PeerMesh implements it). */
export interface NeighbourhoodHost {
  readonly peerId: string;
  readonly signaling: SignalingClient;
  /** Links held or under way, pending link requests included. */
  linkCount(): number;
  /** 'open' (usable), 'connecting' (an RTCPeerConnection exists), or 'none'. */
  linkState(peerId: string): 'open' | 'connecting' | 'none';
  /** Starts a connection as the offerer. */
  offer(peerId: string): unknown;
  /** Ends and forgets the link to `peerId`, without re-forming it. */
  close(peerId: string, reason: string): void;
  /** How long a link may take to open. */
  readonly connectDeadlineMs: number;
}

/** The signaling server's `unknown-peer` message names the peer it could not reach. */
const UNKNOWN_PEER_MESSAGE = /no peer ([0-9a-f]{64})/;

interface PendingLink {
  readonly done: Promise<boolean>;
  resolve(ok: boolean): void;
  timer: ReturnType<typeof setTimeout>;
}

export class MeshNeighbourhood implements Neighbourhood {
  private readonly pending = new Map<string, PendingLink>();

  constructor(
    private readonly host: NeighbourhoodHost,
    readonly maxLinks: number,
  ) {
    if (!Number.isInteger(maxLinks) || maxLinks < 1)
      throw new RangeError(`neighbourhood maxLinks must be a positive integer, got ${maxLinks}`);
    // The server could not relay to a peer (it left, or never was in the room): that link is refused.
    host.signaling.on('error', (e) => {
      const gone = e.code === 'unknown-peer' ? UNKNOWN_PEER_MESSAGE.exec(e.message)?.[1] : undefined;
      if (gone && this.pending.has(gone)) {
        this.settle(gone, false);
        this.host.close(gone, 'not in the room');
      }
    });
  }

  candidates(): NeighbourhoodCandidates {
    const s = this.host.signaling;
    return {
      peerIds: s
        .peers()
        .map((p) => p.peerId)
        .filter((id) => id !== this.host.peerId),
      roomSize: s.roomSize,
    };
  }

  async refreshCandidates(): Promise<NeighbourhoodCandidates> {
    await this.host.signaling.requestSample();
    return this.candidates();
  }

  link(peerId: string): Promise<boolean> {
    if (peerId === this.host.peerId) return Promise.resolve(false);
    const state = this.host.linkState(peerId);
    if (state === 'open') return Promise.resolve(true);
    const already = this.pending.get(peerId);
    if (already) return already.done;
    if (state === 'none' && this.host.linkCount() >= this.maxLinks) return Promise.resolve(false);
    // Only members this peer was told about (samples, joins, whoever signaled it) can be linked.
    if (state === 'none' && !this.host.signaling.peers().some((p) => p.peerId === peerId))
      return Promise.resolve(false);
    let resolve!: (ok: boolean) => void;
    const done = new Promise<boolean>((r) => (resolve = r));
    const timer = setTimeout(() => {
      if (this.host.linkState(peerId) !== 'open') {
        this.settle(peerId, false);
        this.host.close(peerId, `link not open within ${this.host.connectDeadlineMs} ms`);
      }
    }, this.host.connectDeadlineMs);
    this.pending.set(peerId, { done, resolve, timer });
    if (state === 'none') {
      if (this.host.peerId < peerId) this.host.offer(peerId);
      else this.host.signaling.sendSignal(peerId, { type: 'renegotiate', renegotiate: true });
    }
    return done;
  }

  unlink(peerId: string): void {
    this.host.signaling.sendSignal(peerId, { type: 'link-refused', reason: 'unlinked' });
    this.host.close(peerId, 'unlinked');
  }

  /**
   * Link requests this peer made and has not seen answered. They hold a
   * place: a request to a lower id has no connection until that side's offer
   * comes, and an unasked offer taken meanwhile would make one link too many.
   */
  pendingIds(): IterableIterator<string> {
    return this.pending.keys();
  }

  /** The mesh: the link to `peerId` opened. */
  opened(peerId: string): void {
    this.settle(peerId, true);
  }

  /** The mesh: the link to `peerId` ended or was forgotten. */
  closed(peerId: string): void {
    this.settle(peerId, false);
  }

  /**
   * Handles the signals that mean something only with a neighbourhood:
   * `link-refused`, a link request (`renegotiate`), and whether an offer is
   * taken. Returns true when the signal was dealt with here (dropped or
   * answered), false when the mesh should pass it on as usual.
   */
  onSignal(from: string, data: SignalData): boolean {
    if (data.type === 'link-refused') {
      this.settle(from, false);
      this.host.close(from, data.reason === 'full' ? 'the other side is full' : 'unlinked by the other side');
      return true;
    }
    if (data.type === 'renegotiate') {
      // A higher id asks us (the offerer) for a link.
      if (from < this.host.peerId || this.host.linkState(from) !== 'none') return true;
      if (this.host.linkCount() >= this.maxLinks) this.refuse(from);
      else this.host.offer(from);
      return true;
    }
    if (data.type === 'offer') {
      const wanted = this.pending.has(from) || this.host.linkState(from) !== 'none';
      if (!wanted && this.host.linkCount() >= this.maxLinks) {
        this.refuse(from);
        return true;
      }
    }
    return false;
  }

  stop(): void {
    for (const id of [...this.pending.keys()]) this.settle(id, false);
  }

  private refuse(peerId: string): void {
    this.host.signaling.sendSignal(peerId, { type: 'link-refused', reason: 'full' });
  }

  private settle(peerId: string, ok: boolean): void {
    const p = this.pending.get(peerId);
    if (!p) return;
    this.pending.delete(peerId);
    clearTimeout(p.timer);
    p.resolve(ok);
  }
}
