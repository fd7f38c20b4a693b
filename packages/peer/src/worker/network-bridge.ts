/**
 * An ExpertNetwork across a MessagePort: the Peer runs in a worker, the real
 * network (the WebRTC mesh: RTCPeerConnection does not exist in workers)
 * stays on the main thread.
 *
 *  worker: `PortExpertNetwork.connect(port, selfId)` (this file) — an
 *    ExpertNetwork whose forward/backward/ping go to the main thread and
 *    whose `serve(handlers)` answers the calls other peers make to this one.
 *  main:   `exposeExpertNetwork(port, open)` (network-bridge-main.ts) — opens
 *    the real network when the worker asks, forwards the worker's calls to it
 *    and routes its incoming expert calls into the worker.
 *
 * Tensors are copied into fresh buffers and transferred; every tensor and
 * message is validated on arrival (network-bridge-wire.ts); every call
 * settles: by its answer, its timeout (both sides keep one), its AbortSignal,
 * or `close()`/`stop()`.
 */
import {
  type BackwardOptions,
  Emitter,
  ExpertError,
  type ExpertHandlers,
  type ExpertNetwork,
  type ForwardOptions,
  type Neighbourhood,
  type NetworkEvent,
  type WireTensor,
} from '@peerbench/mesh';
import { PendingCalls } from '@peerbench/protocol';
import { PortNeighbourhood } from './neighbourhood-bridge.js';
import {
  answerOf,
  BRIDGE_TIMEOUT_SLACK_MS,
  type CallOp,
  type Down,
  DownSchema,
  PING_TIMEOUT_MS,
  send,
} from './network-bridge-wire.js';
import { type BridgeOptions, checkTensor, errorFields, type MessagePortLike, PortInbox } from './port.js';

export { PortNeighbourhood } from './neighbourhood-bridge.js';
export { type ExposedNetwork, exposeExpertNetwork } from './network-bridge-main.js';
export {
  BRIDGE_TIMEOUT_SLACK_MS,
  LINK_BRIDGE_TIMEOUT_MS,
  PING_TIMEOUT_MS,
  SAMPLE_BRIDGE_TIMEOUT_MS,
  SERVE_CALL_TIMEOUT_MS,
} from './network-bridge-wire.js';
export type { BridgeOptions } from './port.js';

type Answer = WireTensor | number | undefined;

/** Worker side: an ExpertNetwork whose transport is the main thread. */
export class PortExpertNetwork implements ExpertNetwork {
  private readonly connected = new Set<string>();
  private readonly pending: PendingCalls<Answer, CallOp>;
  private readonly serving = new Map<number, AbortController>();
  private readonly events = new Emitter<Record<NetworkEvent, [string]>>();
  private handlers: ExpertHandlers | null = null;
  private readonly inbox: PortInbox<typeof DownSchema>;
  private opening: { resolve(): void; reject(err: Error): void } | null = null;
  private hood: PortNeighbourhood | undefined;

  private constructor(
    private readonly port: MessagePortLike,
    readonly selfId: string,
    opts: BridgeOptions,
  ) {
    this.pending = new PendingCalls<Answer, CallOp>({
      timeoutError: (ms) => new ExpertError('timeout', `no answer from the main thread within ${ms} ms`),
      abortError: () => new ExpertError('cancelled', 'aborted'),
      // The main thread may still be waiting on the network: tell it to stop.
      onGiveUp: (id) => send(this.port, { t: 'cancel', id }),
    });
    this.inbox = new PortInbox(port, DownSchema, (msg) => this.onMessage(msg), {
      ...opts,
      // A malformed answer still settles its call, so nothing waits for the timeout.
      onMalformed: (data, reason) => {
        const d = data as { t?: unknown; id?: unknown } | null;
        if (d?.t === 'result' && typeof d.id === 'number')
          this.pending.reject(
            d.id,
            new ExpertError('invalid', `malformed answer from the main thread: ${reason}`),
          );
      },
    });
  }

  /** Messages from the main thread dropped because they failed validation. */
  get dropped(): number {
    return this.inbox.dropped;
  }

  private get closed(): boolean {
    return this.inbox.closed;
  }

  /**
   * Asks the main thread to open its network and resolves once it has (with
   * the peers connected at that moment). Rejects when the main thread cannot
   * open it, or when `signal` aborts.
   */
  static connect(
    port: MessagePortLike,
    selfId: string,
    opts: BridgeOptions & { signal?: AbortSignal } = {},
  ): Promise<PortExpertNetwork> {
    const net = new PortExpertNetwork(port, selfId, opts);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        net.close();
        reject(new ExpertError('cancelled', 'opening the network was cancelled'));
      };
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      net.opening = {
        resolve: () => {
          opts.signal?.removeEventListener('abort', onAbort);
          resolve(net);
        },
        reject: (err) => {
          opts.signal?.removeEventListener('abort', onAbort);
          net.opening = null;
          net.close();
          reject(err);
        },
      };
      send(port, { t: 'open' });
    });
  }

  peers(): string[] {
    return [...this.connected];
  }

  /**
   * Present when the main thread's network chooses its links (bounded
   * neighbourhoods, issue 14): the same contract, across the port
   * (neighbourhood-bridge.ts). Known once `connect` resolved.
   */
  get neighbourhood(): Neighbourhood | undefined {
    return this.hood;
  }

  /** Calls waiting for the main thread, and incoming calls being served (0 after close). */
  get pendingCount(): number {
    return this.pending.size + this.serving.size;
  }

  forward(peerId: string, x: WireTensor, opts: ForwardOptions): Promise<WireTensor> {
    return this.call('forward', peerId, x, opts) as Promise<WireTensor>;
  }

  async backward(peerId: string, grad: WireTensor, opts: BackwardOptions): Promise<void> {
    await this.call('backward', peerId, grad, opts);
  }

  ping(peerId: string): Promise<number> {
    return this.track('ping', PING_TIMEOUT_MS, undefined, (id) =>
      send(this.port, { t: 'ping', id, peerId }),
    ) as Promise<number>;
  }

  serve(handlers: ExpertHandlers): () => void {
    this.handlers = handlers;
    if (!this.closed) send(this.port, { t: 'serve', on: true });
    return () => {
      if (this.handlers !== handlers) return;
      this.handlers = null;
      for (const ac of this.serving.values()) ac.abort();
      if (!this.closed) send(this.port, { t: 'serve', on: false });
    };
  }

  on(event: NetworkEvent, cb: (peerId: string) => void): () => void {
    return this.events.on(event, cb);
  }

  /** Settles every pending call with 'cancelled', stops serving, tells the main thread and stops listening. */
  close(): void {
    if (!this.inbox.close()) return;
    this.opening?.reject(new ExpertError('cancelled', 'the network bridge was closed'));
    this.opening = null;
    this.pending.rejectAll(new ExpertError('cancelled', 'the network bridge was closed'));
    this.hood?.close();
    for (const ac of this.serving.values()) ac.abort();
    this.serving.clear();
    this.handlers = null;
    this.connected.clear();
    send(this.port, { t: 'close' });
  }

  private call(
    op: 'forward' | 'backward',
    peerId: string,
    tensor: WireTensor,
    opts: ForwardOptions | BackwardOptions,
  ): Promise<Answer> {
    const bad = checkTensor(tensor);
    if (bad) return Promise.reject(new ExpertError('invalid', `not sent: ${bad}`));
    return this.track(op, opts.timeoutMs + BRIDGE_TIMEOUT_SLACK_MS, opts.signal, (id) =>
      send(
        this.port,
        {
          t: 'call',
          id,
          op,
          peerId,
          rid: opts.requestId,
          timeoutMs: opts.timeoutMs,
          wireDtype: opts.wireDtype ?? 'fp32',
          // Replaced by the transferable copy in send().
          tensor: { shape: [], data: new Float32Array(0) },
        },
        tensor,
      ),
    );
  }

  /** Registers a pending call that settles by answer, timeout, abort or close, then posts it. */
  private track(
    op: CallOp,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    post: (id: number) => void,
  ): Promise<Answer> {
    if (this.closed) return Promise.reject(new ExpertError('cancelled', 'the network bridge is closed'));
    if (signal?.aborted) return Promise.reject(new ExpertError('cancelled', 'aborted before sending'));
    const call = this.pending.add({ timeoutMs, signal, context: op });
    post(call.id);
    return call.promise;
  }

  private onMessage(msg: Down): void {
    switch (msg.t) {
      case 'opened':
        for (const p of msg.peers) if (p !== this.selfId) this.connected.add(p);
        if (msg.neighbourhood && !this.hood)
          this.hood = new PortNeighbourhood(msg.neighbourhood, this.selfId, (m) => send(this.port, m));
        this.opening?.resolve();
        this.opening = null;
        return;
      case 'open-failed':
        this.opening?.reject(new Error(msg.message));
        this.opening = null;
        return;
      case 'peer': {
        if (msg.peerId === this.selfId) return;
        const had = this.connected.has(msg.peerId);
        if (msg.event === 'peer-connected') this.connected.add(msg.peerId);
        else this.connected.delete(msg.peerId);
        const changed = had !== (msg.event === 'peer-connected');
        if (changed) this.events.emit(msg.event, msg.peerId);
        return;
      }
      case 'result': {
        const op = this.pending.context(msg.id);
        if (op === undefined) return; // already timed out or cancelled
        const outcome = msg.ok ? answerOf(op, msg) : new ExpertError(msg.code, msg.message);
        if (outcome instanceof ExpertError) this.pending.reject(msg.id, outcome);
        else this.pending.resolve(msg.id, outcome.value);
        return;
      }
      case 'serve-call':
        void this.serveCall(msg.id, msg.op, msg.from, msg.rid, msg.tensor);
        return;
      case 'serve-cancel':
        this.serving.get(msg.id)?.abort();
        return;
      case 'linked':
      case 'candidates':
        this.hood?.receive(msg);
        return;
    }
  }

  private async serveCall(id: number, op: 'forward' | 'backward', from: string, rid: string, t: WireTensor) {
    const handlers = this.handlers;
    const fail = (err: unknown) => send(this.port, { t: 'served', id, ok: false, ...errorFields(err) });
    if (!handlers) return fail(new ExpertError('rejected', 'not serving'));
    const bad = checkTensor(t);
    if (bad) return fail(new ExpertError('invalid', bad));
    const ac = new AbortController();
    this.serving.set(id, ac);
    try {
      if (op === 'forward') {
        const answer = await handlers.forward(from, rid, t, ac.signal);
        const badAnswer = checkTensor(answer);
        if (badAnswer) throw new ExpertError('invalid', `own answer: ${badAnswer}`);
        if (!this.closed && this.serving.has(id)) send(this.port, { t: 'served', id, ok: true }, answer);
      } else {
        await handlers.backward(from, rid, t, ac.signal);
        if (!this.closed && this.serving.has(id)) send(this.port, { t: 'served', id, ok: true });
      }
    } catch (err) {
      if (!this.closed && this.serving.has(id)) fail(err);
    } finally {
      this.serving.delete(id);
    }
  }
}
