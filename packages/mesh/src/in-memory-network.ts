/**
 * Several peers in one process, connected by a hub that copies tensors the
 * way a wire would (no shared buffers), optionally rounds answers through
 * fp16, delays them, drops peers, or corrupts answers on purpose. Used by the
 * tests and by swarm experiments that do not need WebRTC.
 */
import { decodeFloat16Array, encodeFloat16Array, type WireDtype } from '@peerbench/protocol';
import { Emitter } from './emitter.js';
import type { Neighbourhood, NeighbourhoodCandidates } from './neighbourhood.js';
import {
  type BackwardOptions,
  cloneTensor,
  ExpertError,
  type ExpertHandlers,
  type ExpertNetwork,
  type ForwardOptions,
  type NetworkEvent,
  type WireTensor,
  wireBytes,
} from './network.js';

/** Fault injection for one peer's answers (tests of the caller's defences). */
export interface InMemoryFault {
  /** Corrupt the forward answer: NaN values, a wrong shape, or an answer that arrives after `delayMs`. */
  answer?: 'nan' | 'wrong-shape' | 'normal';
  /** Extra delay before answering, in ms. */
  delayMs?: number;
}

export interface InMemoryHubOptions {
  /** One-way delay added to every call, in ms (0 = next macrotask). */
  latencyMs?: number;
  /**
   * Bounded neighbourhoods (issue 14): every endpoint gets a `neighbourhood`
   * with at most this many links, `peers()` lists only linked peers and calls
   * to anyone else fail with 'peer-gone'. Undefined: everyone is linked to
   * everyone (the full mesh of a small room).
   */
  maxLinks?: number;
}

export interface InMemoryJoinOptions {
  /** This endpoint's own cap on links (default: the hub's `maxLinks`). */
  maxLinks?: number;
}

/** Traffic counters of one endpoint, in payload bytes. */
export interface TrafficCounters {
  forwardRequestBytes: number;
  forwardAnswerBytes: number;
  backwardBytes: number;
  forwardCalls: number;
}

export class InMemoryHub {
  private readonly endpoints = new Map<string, InMemoryExpertNetwork>();
  readonly latencyMs: number;
  readonly maxLinks: number | undefined;

  constructor(opts: InMemoryHubOptions = {}) {
    this.latencyMs = opts.latencyMs ?? 0;
    if (opts.maxLinks !== undefined && !(Number.isSafeInteger(opts.maxLinks) && opts.maxLinks >= 0))
      throw new RangeError(`maxLinks must be a non-negative integer, got ${opts.maxLinks}`);
    this.maxLinks = opts.maxLinks;
  }

  /**
   * Connects a new endpoint. Full mesh: every other endpoint sees it as
   * connected. Bounded neighbourhoods: it is a candidate for the others and
   * linked to no one until someone calls `link`.
   */
  join(peerId: string, opts: InMemoryJoinOptions = {}): InMemoryExpertNetwork {
    if (this.endpoints.has(peerId)) throw new Error(`peer ${peerId} already joined`);
    const maxLinks = opts.maxLinks ?? this.maxLinks;
    const net = new InMemoryExpertNetwork(this, peerId, maxLinks);
    this.endpoints.set(peerId, net);
    if (maxLinks === undefined)
      for (const [id, other] of this.endpoints)
        if (id !== peerId && !other.neighbourhood) other.emit('peer-connected', peerId);
    return net;
  }

  /** Disconnects an endpoint (a tab closed): calls to it fail with 'peer-gone'; its links close. */
  leave(peerId: string): void {
    const net = this.endpoints.get(peerId);
    if (!net) return;
    const linked = net.neighbourhood ? new Set(net.peers()) : null;
    this.endpoints.delete(peerId);
    for (const [id, other] of this.endpoints) {
      if (other.neighbourhood) {
        if (other.dropLink(peerId)) other.emit('peer-disconnected', peerId);
      } else if (!linked || linked.has(id)) other.emit('peer-disconnected', peerId);
    }
  }

  endpoint(peerId: string): InMemoryExpertNetwork | undefined {
    return this.endpoints.get(peerId);
  }

  ids(): string[] {
    return [...this.endpoints.keys()];
  }
}

/**
 * The tensor as the other side of a wire would read it: a copy, rounded
 * through fp16 with the mesh's own codec when the wire dtype is fp16 (a value
 * that does not fit is refused as the mesh refuses it: 'invalid').
 */
function overTheWire(t: WireTensor, dtype: WireDtype): WireTensor {
  if (dtype === 'fp32') return cloneTensor(t);
  const half = new Uint16Array(t.data.length);
  const data = new Float32Array(t.data.length);
  const bad = encodeFloat16Array(t.data, half);
  if (bad >= 0) throw new ExpertError('invalid', `value ${t.data[bad]} at ${bad} does not fit fp16`);
  decodeFloat16Array(half, data);
  return { shape: t.shape.slice(), data };
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ExpertError('cancelled', 'aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ExpertError('cancelled', 'aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class InMemoryExpertNetwork implements ExpertNetwork {
  readonly selfId: string;
  fault: InMemoryFault = {};
  readonly traffic: TrafficCounters = {
    forwardRequestBytes: 0,
    forwardAnswerBytes: 0,
    backwardBytes: 0,
    forwardCalls: 0,
  };
  /** Present when the hub (or this join) bounds the links: see InMemoryHubOptions.maxLinks. */
  readonly neighbourhood?: Neighbourhood;
  private handlers: ExpertHandlers | null = null;
  private readonly events = new Emitter<Record<NetworkEvent, [string]>>();
  /** Bounded mode: the peers linked to this one (symmetric: each side holds the other). */
  private readonly links: Set<string> | null;

  constructor(
    private readonly hub: InMemoryHub,
    selfId: string,
    maxLinks?: number,
  ) {
    this.selfId = selfId;
    this.links = maxLinks === undefined ? null : new Set();
    if (maxLinks !== undefined) this.neighbourhood = new InMemoryNeighbourhood(hub, this, maxLinks);
  }

  peers(): string[] {
    if (!this.hub.endpoint(this.selfId)) return [];
    if (this.links) return [...this.links];
    return this.hub.ids().filter((id) => id !== this.selfId && !this.hub.endpoint(id)?.links);
  }

  /** Whether this endpoint may call `peerId` (linked, or both in the full mesh). */
  reaches(peerId: string): boolean {
    const remote = this.hub.endpoint(peerId);
    if (!remote || !this.hub.endpoint(this.selfId)) return false;
    if (this.links) return this.links.has(peerId);
    return !remote.links;
  }

  /** @internal the neighbourhood's side of a link: true when it was new. */
  addLink(peerId: string): boolean {
    if (!this.links || this.links.has(peerId)) return false;
    this.links.add(peerId);
    return true;
  }

  /** @internal true when there was a link to drop. */
  dropLink(peerId: string): boolean {
    return this.links?.delete(peerId) ?? false;
  }

  /** @internal links held (bounded mode). */
  linkCount(): number {
    return this.links?.size ?? 0;
  }

  /** Runs a call against the remote handler with a timeout, cancellation and wire-like copying. */
  private async call<T>(
    peerId: string,
    opts: { timeoutMs: number; signal?: AbortSignal },
    run: (remote: InMemoryExpertNetwork, handlers: ExpertHandlers, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const remote = this.hub.endpoint(peerId);
    if (!remote || !this.reaches(peerId)) throw new ExpertError('peer-gone', `${peerId} is not connected`);
    const handlers = remote.handlers;
    if (!handlers) throw new ExpertError('rejected', `${peerId} does not serve`);
    const controller = new AbortController();
    let rejectCancelled: ((e: ExpertError) => void) | undefined;
    // One listener per call, removed when the call settles (a step shares one
    // signal across all its forwards; leftover listeners would pile up on it).
    const onAbort = () => {
      controller.abort();
      rejectCancelled?.(new ExpertError('cancelled', 'aborted'));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        (async () => {
          await delay(this.hub.latencyMs, controller.signal);
          const result = await run(remote, handlers, controller.signal);
          await delay(this.hub.latencyMs + (remote.fault.delayMs ?? 0), controller.signal);
          if (!this.reaches(peerId)) throw new ExpertError('peer-gone', `${peerId} left`);
          return result;
        })(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            controller.abort();
            reject(new ExpertError('timeout', `no answer from ${peerId} within ${opts.timeoutMs} ms`));
          }, opts.timeoutMs);
          rejectCancelled = reject;
          if (opts.signal?.aborted) reject(new ExpertError('cancelled', 'aborted'));
        }),
      ]);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      controller.abort();
    }
  }

  async forward(peerId: string, x: WireTensor, opts: ForwardOptions): Promise<WireTensor> {
    // Like the mesh: one wire dtype for the request and the answer.
    const dtype = opts.wireDtype ?? 'fp32';
    this.traffic.forwardCalls++;
    this.traffic.forwardRequestBytes += wireBytes(x, dtype);
    const sent = overTheWire(x, dtype);
    const answer = await this.call(peerId, opts, async (remote, handlers, signal) => {
      const out = await handlers.forward(this.selfId, opts.requestId, sent, signal);
      const mode = remote.fault.answer ?? 'normal';
      if (mode === 'nan') {
        const bad = cloneTensor(out);
        bad.data[0] = Number.NaN;
        return bad;
      }
      if (mode === 'wrong-shape')
        return { shape: [out.shape[0] ?? 0, 3], data: new Float32Array((out.shape[0] ?? 0) * 3) };
      return out;
    });
    this.traffic.forwardAnswerBytes += wireBytes(answer, dtype);
    return overTheWire(answer, dtype);
  }

  async backward(peerId: string, grad: WireTensor, opts: BackwardOptions): Promise<void> {
    const dtype = opts.wireDtype ?? 'fp32';
    this.traffic.backwardBytes += wireBytes(grad, dtype);
    const sent = overTheWire(grad, dtype);
    await this.call(peerId, opts, (_remote, handlers, signal) =>
      handlers.backward(this.selfId, opts.requestId, sent, signal),
    );
  }

  serve(handlers: ExpertHandlers): () => void {
    this.handlers = handlers;
    return () => {
      if (this.handlers === handlers) this.handlers = null;
    };
  }

  async ping(peerId: string): Promise<number> {
    if (!this.reaches(peerId)) throw new ExpertError('peer-gone', `${peerId} is not connected`);
    const t0 = performance.now();
    await delay(2 * this.hub.latencyMs);
    return performance.now() - t0;
  }

  on(event: NetworkEvent, cb: (peerId: string) => void): () => void {
    return this.events.on(event, cb);
  }

  /** @internal called by the hub */
  emit(event: NetworkEvent, peerId: string): void {
    this.events.emit(event, peerId);
  }
}

/**
 * The in-memory side of the Neighbourhood contract: every member of the hub
 * is a candidate, links open at once (or are refused when either side holds
 * its cap), and both sides hear 'peer-connected' / 'peer-disconnected'.
 */
class InMemoryNeighbourhood implements Neighbourhood {
  constructor(
    private readonly hub: InMemoryHub,
    private readonly self: InMemoryExpertNetwork,
    readonly maxLinks: number,
  ) {}

  candidates(): NeighbourhoodCandidates {
    const ids = this.hub.ids();
    return { peerIds: ids.filter((id) => id !== this.self.selfId), roomSize: ids.length };
  }

  async refreshCandidates(): Promise<NeighbourhoodCandidates> {
    return this.candidates();
  }

  async link(peerId: string): Promise<boolean> {
    const self = this.self;
    const remote = this.hub.endpoint(peerId);
    if (!remote?.neighbourhood || peerId === self.selfId || !this.hub.endpoint(self.selfId)) return false;
    if (self.peers().includes(peerId)) return true;
    if (self.linkCount() >= this.maxLinks || remote.linkCount() >= remote.neighbourhood.maxLinks)
      return false;
    self.addLink(peerId);
    remote.addLink(self.selfId);
    self.emit('peer-connected', peerId);
    remote.emit('peer-connected', self.selfId);
    return true;
  }

  unlink(peerId: string): void {
    const remote = this.hub.endpoint(peerId);
    const mine = this.self.dropLink(peerId);
    const theirs = remote?.dropLink(this.self.selfId) ?? false;
    if (mine) this.self.emit('peer-disconnected', peerId);
    if (theirs) remote?.emit('peer-disconnected', this.self.selfId);
  }
}
