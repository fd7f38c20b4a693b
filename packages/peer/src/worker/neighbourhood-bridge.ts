/**
 * The Neighbourhood contract (packages/mesh neighbourhood.ts; issue 14)
 * across the network bridge's port. The Peer's neighbour policy runs in the
 * worker (neighbourhood-runner.ts) while the links it chooses are the WebRTC
 * mesh's, on the main thread:
 *
 *  worker: `PortNeighbourhood` (this file), the `neighbourhood` of a
 *    PortExpertNetwork whose main thread has one: `link` and
 *    `refreshCandidates` are calls answered by the main thread (through the
 *    one PendingCalls table helper), `unlink` is a notice, `candidates()`
 *    reads the latest members the main thread sent.
 *  main:   `serveNeighbourhood(nb, reply)` (this file), used by
 *    exposeExpertNetwork: does what the worker asks on the real
 *    Neighbourhood and answers.
 *
 * The contract's rules hold across the port: `link` never rejects (a call
 * the main thread does not answer in time, or one cut by close, resolves
 * false); links and their events are the mesh's own (the bridge's
 * `peer-connected`/`peer-disconnected`). Every message is validated on
 * arrival (network-bridge-wire.ts schemas).
 */
import { ExpertError, type Neighbourhood, type NeighbourhoodCandidates } from '@peerbench/mesh';
import { PendingCalls } from '@peerbench/protocol';
import {
  type Down,
  LINK_BRIDGE_TIMEOUT_MS,
  MAX_BRIDGE_CANDIDATES,
  type NeighbourhoodInfo,
  SAMPLE_BRIDGE_TIMEOUT_MS,
  type Up,
} from './network-bridge-wire.js';

type NeighbourCall = 'link' | 'sample';

/** Worker side: the main thread's Neighbourhood, reached over the port. */
export class PortNeighbourhood implements Neighbourhood {
  readonly maxLinks: number;
  private latest: NeighbourhoodCandidates;
  private readonly calls: PendingCalls<boolean | NeighbourhoodCandidates, NeighbourCall>;
  private closed = false;

  constructor(
    info: NeighbourhoodInfo,
    private readonly selfId: string,
    private readonly post: (message: Extract<Up, { t: 'link' | 'unlink' | 'sample' }>) => void,
  ) {
    this.maxLinks = info.maxLinks;
    this.latest = this.withoutSelf(info);
    this.calls = new PendingCalls({
      timeoutError: (ms, op) =>
        new ExpertError('timeout', `no ${op} answer from the main thread within ${ms} ms`),
      abortError: () => new ExpertError('cancelled', 'aborted'),
    });
  }

  candidates(): NeighbourhoodCandidates {
    return { peerIds: [...this.latest.peerIds], roomSize: this.latest.roomSize };
  }

  /** A fresh sample from the main thread; the latest known members when it cannot answer. */
  async refreshCandidates(): Promise<NeighbourhoodCandidates> {
    if (this.closed) return this.candidates();
    const call = this.calls.add({ timeoutMs: SAMPLE_BRIDGE_TIMEOUT_MS, context: 'sample' });
    this.post({ t: 'sample', id: call.id });
    await call.promise.catch(() => undefined);
    return this.candidates();
  }

  link(peerId: string): Promise<boolean> {
    if (this.closed || peerId === this.selfId) return Promise.resolve(false);
    const call = this.calls.add({ timeoutMs: LINK_BRIDGE_TIMEOUT_MS, context: 'link' });
    this.post({ t: 'link', id: call.id, peerId });
    return call.promise.then(
      (ok) => ok === true,
      () => false,
    );
  }

  unlink(peerId: string): void {
    if (!this.closed) this.post({ t: 'unlink', peerId });
  }

  /** Calls waiting for the main thread. */
  get pendingCount(): number {
    return this.calls.size;
  }

  /** The bridge: a message of the neighbourhood from the main thread (already validated). */
  receive(msg: Extract<Down, { t: 'linked' | 'candidates' }>): void {
    if (msg.t === 'candidates') {
      this.latest = this.withoutSelf(msg);
      if (msg.id !== null && this.calls.context(msg.id) === 'sample') this.calls.resolve(msg.id, this.latest);
      return;
    }
    // An answer of the wrong kind for its id is dropped: the call then ends by its deadline.
    if (this.calls.context(msg.id) === 'link') this.calls.resolve(msg.id, msg.ok);
  }

  /** Every pending call settles (links false, samples with the latest members); later calls answer at once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.calls.rejectAll(new ExpertError('cancelled', 'the network bridge was closed'));
  }

  private withoutSelf(c: { peerIds: readonly string[]; roomSize: number | null }): NeighbourhoodCandidates {
    return { peerIds: c.peerIds.filter((id) => id !== this.selfId), roomSize: c.roomSize };
  }
}

/** What the main thread tells the worker about a Neighbourhood when the network opens. */
export function neighbourhoodInfo(nb: Neighbourhood): NeighbourhoodInfo {
  const c = nb.candidates();
  return { maxLinks: nb.maxLinks, peerIds: c.peerIds.slice(0, MAX_BRIDGE_CANDIDATES), roomSize: c.roomSize };
}

/**
 * Main side: answers the worker's neighbourhood messages with the real
 * Neighbourhood (`null` when the network has none: every link is refused and
 * samples are empty, so a worker that asks anyway learns so at once).
 * `reply` posts to the worker (a no-op once the bridge stopped).
 */
export function serveNeighbourhood(
  nb: () => Neighbourhood | null,
  reply: (message: Down) => void,
): {
  onMessage(msg: Extract<Up, { t: 'link' | 'unlink' | 'sample' }>): void;
  /** Sends the current members unasked (after membership news, so `candidates()` stays fresh). */
  push(): void;
} {
  const members = (id: number | null): Down => {
    const c = nb()?.candidates() ?? { peerIds: [], roomSize: null };
    return { t: 'candidates', id, peerIds: c.peerIds.slice(0, MAX_BRIDGE_CANDIDATES), roomSize: c.roomSize };
  };
  return {
    onMessage(msg) {
      const hood = nb();
      switch (msg.t) {
        case 'link':
          if (!hood) return reply({ t: 'linked', id: msg.id, ok: false });
          // Never rejects (the contract); the members list may have changed meanwhile.
          void hood.link(msg.peerId).then((ok) => {
            reply({ t: 'linked', id: msg.id, ok });
            reply(members(null));
          });
          return;
        case 'unlink':
          hood?.unlink(msg.peerId);
          return;
        case 'sample':
          if (!hood) return reply(members(msg.id));
          void hood.refreshCandidates().then(
            () => reply(members(msg.id)),
            () => reply(members(msg.id)),
          );
          return;
      }
    },
    push() {
      if (nb()) reply(members(null));
    },
  };
}
