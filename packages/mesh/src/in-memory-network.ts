/**
 * Several peers in one process, connected by a hub that copies tensors the
 * way a wire would (no shared buffers), optionally rounds answers through
 * fp16, delays them, drops peers, or corrupts answers on purpose. Used by the
 * tests and by swarm experiments that do not need WebRTC.
 */
import { decodeFloat16Array, encodeFloat16Array, type WireDtype } from '@peerbench/protocol';
import { Emitter } from './emitter.js';
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

  constructor(opts: InMemoryHubOptions = {}) {
    this.latencyMs = opts.latencyMs ?? 0;
  }

  /** Connects a new endpoint; every other endpoint sees it as connected. */
  join(peerId: string): InMemoryExpertNetwork {
    if (this.endpoints.has(peerId)) throw new Error(`peer ${peerId} already joined`);
    const net = new InMemoryExpertNetwork(this, peerId);
    this.endpoints.set(peerId, net);
    for (const [id, other] of this.endpoints) if (id !== peerId) other.emit('peer-connected', peerId);
    return net;
  }

  /** Disconnects an endpoint (a tab closed): calls to it fail with 'peer-gone'. */
  leave(peerId: string): void {
    if (!this.endpoints.delete(peerId)) return;
    for (const other of this.endpoints.values()) other.emit('peer-disconnected', peerId);
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
  private handlers: ExpertHandlers | null = null;
  private readonly events = new Emitter<Record<NetworkEvent, [string]>>();

  constructor(
    private readonly hub: InMemoryHub,
    selfId: string,
  ) {
    this.selfId = selfId;
  }

  peers(): string[] {
    if (!this.hub.endpoint(this.selfId)) return [];
    return this.hub.ids().filter((id) => id !== this.selfId);
  }

  /** Runs a call against the remote handler with a timeout, cancellation and wire-like copying. */
  private async call<T>(
    peerId: string,
    opts: { timeoutMs: number; signal?: AbortSignal },
    run: (remote: InMemoryExpertNetwork, handlers: ExpertHandlers, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const remote = this.hub.endpoint(peerId);
    if (!remote || !this.hub.endpoint(this.selfId))
      throw new ExpertError('peer-gone', `${peerId} is not connected`);
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
          if (!this.hub.endpoint(peerId)) throw new ExpertError('peer-gone', `${peerId} left`);
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
    if (!this.hub.endpoint(peerId)) throw new ExpertError('peer-gone', `${peerId} is not connected`);
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
