/**
 * An ExpertNetwork across a MessagePort: the Peer runs in a worker, the real
 * network (the WebRTC mesh: RTCPeerConnection does not exist in workers)
 * stays on the main thread.
 *
 *  worker: `PortExpertNetwork.connect(port, selfId)` — an ExpertNetwork whose
 *    forward/backward/ping go to the main thread and whose `serve(handlers)`
 *    answers the calls other peers make to this one.
 *  main:   `exposeExpertNetwork(port, open)` — opens the real network when the
 *    worker asks (`open` may wait, e.g. until the signaling server answers),
 *    forwards the worker's calls to it and routes its incoming expert calls
 *    into the worker.
 *
 * Tensors are copied into fresh buffers and transferred; every tensor and
 * message is validated on arrival; every call settles: by its answer, its
 * timeout (both sides keep one), its AbortSignal, or `close()`/`stop()`.
 */
import * as v from 'valibot';
import { Emitter } from '../mesh/emitter.js';
import {
  type BackwardOptions,
  ExpertError,
  type ExpertHandlers,
  type ExpertNetwork,
  type ForwardOptions,
  type NetworkEvent,
  type WireTensor,
} from '../network.js';
import {
  CallIdSchema,
  checkTensor,
  ErrorCodeSchema,
  errorFields,
  IdSchema,
  issuesText,
  listen,
  type MessagePortLike,
  MessageTextSchema,
  TensorSchema,
  transferableTensor,
} from './port.js';

/**
 * Extra time the worker waits beyond a call's own timeout before giving up on
 * the main thread's answer (the main thread's network enforces the timeout;
 * this only guarantees the worker never waits forever).
 */
export const BRIDGE_TIMEOUT_SLACK_MS = 1000;
/** Longest the main thread waits for the worker to answer an incoming expert call. */
export const SERVE_CALL_TIMEOUT_MS = 30_000;
/** Longest the worker waits for a ping answer. */
export const PING_TIMEOUT_MS = 10_000;

const WireDtypeSchema = v.picklist(['fp32', 'fp16']);
const OpSchema = v.picklist(['forward', 'backward']);
const NetworkEventSchema = v.picklist(['peer-connected', 'peer-disconnected']);

/** Worker → main. */
const UpSchema = v.variant('t', [
  v.object({ t: v.literal('open') }),
  v.object({
    t: v.literal('call'),
    id: CallIdSchema,
    op: OpSchema,
    peerId: IdSchema,
    rid: IdSchema,
    tensor: TensorSchema,
    timeoutMs: v.pipe(v.number(), v.minValue(0), v.maxValue(600_000)),
    wireDtype: WireDtypeSchema,
  }),
  v.object({ t: v.literal('ping'), id: CallIdSchema, peerId: IdSchema }),
  v.object({ t: v.literal('cancel'), id: CallIdSchema }),
  v.object({ t: v.literal('serve'), on: v.boolean() }),
  v.object({
    t: v.literal('served'),
    id: CallIdSchema,
    ok: v.literal(true),
    tensor: v.optional(TensorSchema),
  }),
  v.object({
    t: v.literal('served'),
    id: CallIdSchema,
    ok: v.literal(false),
    code: ErrorCodeSchema,
    message: MessageTextSchema,
  }),
  v.object({ t: v.literal('close') }),
]);
type Up = v.InferOutput<typeof UpSchema>;

/** Main → worker. */
const DownSchema = v.variant('t', [
  v.object({ t: v.literal('opened'), peers: v.pipe(v.array(IdSchema), v.maxLength(10_000)) }),
  v.object({ t: v.literal('open-failed'), message: MessageTextSchema }),
  v.object({
    t: v.literal('result'),
    id: CallIdSchema,
    ok: v.literal(true),
    tensor: v.optional(TensorSchema),
    value: v.optional(v.pipe(v.number(), v.finite())),
  }),
  v.object({
    t: v.literal('result'),
    id: CallIdSchema,
    ok: v.literal(false),
    code: ErrorCodeSchema,
    message: MessageTextSchema,
  }),
  v.object({ t: v.literal('peer'), event: NetworkEventSchema, peerId: IdSchema }),
  v.object({
    t: v.literal('serve-call'),
    id: CallIdSchema,
    op: OpSchema,
    from: IdSchema,
    rid: IdSchema,
    tensor: TensorSchema,
  }),
  v.object({ t: v.literal('serve-cancel'), id: CallIdSchema }),
]);
type Down = v.InferOutput<typeof DownSchema>;

export interface BridgeOptions {
  /** Called with the reason whenever a malformed message from the other side is dropped. */
  onInvalid?: (reason: string) => void;
}

interface PendingCall {
  op: 'forward' | 'backward' | 'ping';
  resolve(value: WireTensor | number | undefined): void;
  reject(err: ExpertError): void;
  cleanup(): void;
}

function send(port: MessagePortLike, message: Up | Down, tensor?: WireTensor): void {
  if (!tensor) {
    port.postMessage(message, []);
    return;
  }
  const { tensor: copy, transfer } = transferableTensor(tensor);
  port.postMessage({ ...message, tensor: copy }, transfer);
}

/** The value a successful result carries for its call, or why it is unusable. */
function answerOf(
  op: PendingCall['op'],
  msg: { tensor?: WireTensor | undefined; value?: number | undefined },
): ExpertError | { value: WireTensor | number | undefined } {
  if (op === 'forward') {
    if (!msg.tensor) return new ExpertError('invalid', 'forward answer without a tensor');
    const bad = checkTensor(msg.tensor);
    return bad ? new ExpertError('invalid', `forward answer: ${bad}`) : { value: msg.tensor };
  }
  if (op === 'ping') {
    if (msg.value === undefined || msg.value < 0)
      return new ExpertError('invalid', 'ping answer without a round-trip time');
    return { value: msg.value };
  }
  return { value: undefined };
}

/** Worker side: an ExpertNetwork whose transport is the main thread. */
export class PortExpertNetwork implements ExpertNetwork {
  private readonly connected = new Set<string>();
  private readonly pending = new Map<number, PendingCall>();
  private readonly serving = new Map<number, AbortController>();
  private readonly events = new Emitter<Record<NetworkEvent, [string]>>();
  private handlers: ExpertHandlers | null = null;
  private nextId = 1;
  private closed = false;
  private readonly unlisten: () => void;
  private opening: { resolve(): void; reject(err: Error): void } | null = null;
  /** Messages dropped because they failed validation. */
  dropped = 0;

  private constructor(
    private readonly port: MessagePortLike,
    readonly selfId: string,
    private readonly opts: BridgeOptions,
  ) {
    this.unlisten = listen(port, (data) => this.onMessage(data));
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
    if (this.closed) return;
    this.closed = true;
    this.opening?.reject(new ExpertError('cancelled', 'the network bridge was closed'));
    this.opening = null;
    for (const call of [...this.pending.values()])
      call.reject(new ExpertError('cancelled', 'the network bridge was closed'));
    for (const ac of this.serving.values()) ac.abort();
    this.serving.clear();
    this.handlers = null;
    this.connected.clear();
    send(this.port, { t: 'close' });
    this.unlisten();
  }

  private call(
    op: 'forward' | 'backward',
    peerId: string,
    tensor: WireTensor,
    opts: ForwardOptions | BackwardOptions,
  ): Promise<WireTensor | number | undefined> {
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

  /** Registers a pending call that settles by answer, timeout, abort or close. */
  private track(
    op: PendingCall['op'],
    timeoutMs: number,
    signal: AbortSignal | undefined,
    post: (id: number) => void,
  ): Promise<WireTensor | number | undefined> {
    if (this.closed) return Promise.reject(new ExpertError('cancelled', 'the network bridge is closed'));
    if (signal?.aborted) return Promise.reject(new ExpertError('cancelled', 'aborted before sending'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        call.reject(new ExpertError('timeout', `no answer from the main thread within ${timeoutMs} ms`));
        send(this.port, { t: 'cancel', id });
      }, timeoutMs);
      const onAbort = () => {
        call.reject(new ExpertError('cancelled', 'aborted'));
        send(this.port, { t: 'cancel', id });
      };
      const call: PendingCall = {
        op,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.pending.delete(id);
        },
        resolve: (value) => {
          call.cleanup();
          resolve(value);
        },
        reject: (err) => {
          call.cleanup();
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, call);
      post(id);
    });
  }

  private invalid(reason: string): void {
    this.dropped++;
    this.opts.onInvalid?.(reason);
  }

  private onMessage(data: unknown): void {
    if (this.closed) return;
    const parsed = v.safeParse(DownSchema, data);
    if (!parsed.success) {
      // A malformed answer still settles its call, so nothing waits for the timeout.
      const id = (data as { t?: unknown; id?: unknown } | null)?.id;
      const call =
        (data as { t?: unknown })?.t === 'result' && typeof id === 'number'
          ? this.pending.get(id)
          : undefined;
      const reason = issuesText(parsed.issues);
      call?.reject(new ExpertError('invalid', `malformed answer from the main thread: ${reason}`));
      this.invalid(reason);
      return;
    }
    const msg: Down = parsed.output;
    switch (msg.t) {
      case 'opened':
        for (const p of msg.peers) if (p !== this.selfId) this.connected.add(p);
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
        const call = this.pending.get(msg.id);
        if (!call) return; // already timed out or cancelled
        const outcome = msg.ok ? answerOf(call.op, msg) : new ExpertError(msg.code, msg.message);
        if (outcome instanceof ExpertError) call.reject(outcome);
        else call.resolve(outcome.value);
        return;
      }
      case 'serve-call':
        void this.serveCall(msg.id, msg.op, msg.from, msg.rid, msg.tensor);
        return;
      case 'serve-cancel':
        this.serving.get(msg.id)?.abort();
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

/** Main side of the bridge, returned by exposeExpertNetwork. */
export interface ExposedNetwork {
  /** Cancels every call in flight both ways, stops serving, unsubscribes; idempotent. */
  stop(): void;
  /** Calls in flight (outgoing + incoming); 0 after stop. */
  readonly pendingCount: number;
  /** Messages from the worker dropped because they failed validation. */
  readonly dropped: number;
}

/**
 * Main side: serves the worker's PortExpertNetwork with a real network.
 * `open` is called when the worker connects (once; again after a failure).
 */
export function exposeExpertNetwork(
  port: MessagePortLike,
  open: () => ExpertNetwork | Promise<ExpertNetwork>,
  opts: BridgeOptions = {},
): ExposedNetwork {
  let network: ExpertNetwork | null = null;
  let opening = false;
  let stopped = false;
  let unserve: (() => void) | null = null;
  const offs: Array<() => void> = [];
  const outgoing = new Map<number, AbortController>();
  const incoming = new Map<
    number,
    { resolve(t: WireTensor | undefined): void; reject(e: ExpertError): void }
  >();
  let nextId = 1;
  let dropped = 0;

  const reply = (message: Down, tensor?: WireTensor) => {
    if (!stopped) send(port, message, tensor);
  };

  const invalid = (reason: string) => {
    dropped++;
    opts.onInvalid?.(reason);
  };

  /** An incoming expert call from a remote peer, handed to the worker. */
  const intoWorker = (
    op: 'forward' | 'backward',
    from: string,
    rid: string,
    t: WireTensor,
    signal: AbortSignal,
  ): Promise<WireTensor | undefined> => {
    if (stopped) return Promise.reject(new ExpertError('rejected', 'not serving'));
    if (signal.aborted) return Promise.reject(new ExpertError('cancelled', 'aborted'));
    const bad = checkTensor(t);
    if (bad) return Promise.reject(new ExpertError('invalid', bad));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        entry.reject(
          new ExpertError('timeout', `the worker did not answer within ${SERVE_CALL_TIMEOUT_MS} ms`),
        );
        reply({ t: 'serve-cancel', id });
      }, SERVE_CALL_TIMEOUT_MS);
      const onAbort = () => {
        entry.reject(new ExpertError('cancelled', 'the caller cancelled'));
        reply({ t: 'serve-cancel', id });
      };
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        incoming.delete(id);
      };
      const entry = {
        resolve: (value: WireTensor | undefined) => {
          done();
          resolve(value);
        },
        reject: (err: ExpertError) => {
          done();
          reject(err);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      incoming.set(id, entry);
      reply({ t: 'serve-call', id, op, from, rid, tensor: { shape: [], data: new Float32Array(0) } }, t);
    });
  };

  const startServing = () => {
    if (!network || unserve) return;
    // The handlers return the bridge's promise with a no-op catch attached: a
    // network may drop a handler's promise when the call is cancelled, and a
    // rejection nobody awaits must not become an unhandled rejection.
    const handled = <T>(p: Promise<T>): Promise<T> => {
      p.catch(() => undefined);
      return p;
    };
    unserve = network.serve({
      forward: (from, rid, x, signal) =>
        handled(
          intoWorker('forward', from, rid, x, signal).then((answer) => {
            if (!answer) throw new ExpertError('invalid', 'the worker answered a forward without a tensor');
            return answer;
          }),
        ),
      backward: (from, rid, grad, signal) =>
        handled(intoWorker('backward', from, rid, grad, signal).then(() => undefined)),
    });
  };

  const doOpen = async () => {
    if (opening || network) {
      if (network) reply({ t: 'opened', peers: network.peers() });
      return;
    }
    opening = true;
    try {
      const net = await open();
      if (stopped) return;
      network = net;
      if (net.on) {
        for (const event of ['peer-connected', 'peer-disconnected'] as const)
          offs.push(net.on(event, (peerId) => reply({ t: 'peer', event, peerId })));
      }
      reply({ t: 'opened', peers: net.peers() });
    } catch (err) {
      reply({ t: 'open-failed', message: (err instanceof Error ? err.message : String(err)).slice(0, 2000) });
    } finally {
      opening = false;
    }
  };

  const onCall = async (msg: Extract<Up, { t: 'call' }>) => {
    const net = network;
    if (!net)
      return reply({
        t: 'result',
        id: msg.id,
        ok: false,
        code: 'peer-gone',
        message: 'the network is not open',
      });
    const bad = checkTensor(msg.tensor);
    if (bad) return reply({ t: 'result', id: msg.id, ok: false, code: 'invalid', message: bad });
    const ac = new AbortController();
    outgoing.set(msg.id, ac);
    const callOpts = {
      requestId: msg.rid,
      timeoutMs: msg.timeoutMs,
      signal: ac.signal,
      wireDtype: msg.wireDtype,
    };
    try {
      if (msg.op === 'forward') {
        const answer = await net.forward(msg.peerId, msg.tensor, callOpts);
        const badAnswer = checkTensor(answer);
        if (badAnswer)
          throw new ExpertError('invalid', `answer from ${msg.peerId.slice(0, 8)}: ${badAnswer}`);
        if (outgoing.has(msg.id)) reply({ t: 'result', id: msg.id, ok: true }, answer);
      } else {
        await net.backward(msg.peerId, msg.tensor, callOpts);
        if (outgoing.has(msg.id)) reply({ t: 'result', id: msg.id, ok: true });
      }
    } catch (err) {
      if (outgoing.has(msg.id)) reply({ t: 'result', id: msg.id, ok: false, ...errorFields(err) });
    } finally {
      outgoing.delete(msg.id);
    }
  };

  const onPing = async (id: number, peerId: string) => {
    const net = network;
    try {
      if (!net?.ping) throw new ExpertError('rejected', 'this network cannot measure round trips');
      const ms = await net.ping(peerId);
      reply({ t: 'result', id, ok: true, value: ms });
    } catch (err) {
      reply({ t: 'result', id, ok: false, ...errorFields(err) });
    }
  };

  const stopServing = () => {
    unserve?.();
    unserve = null;
    for (const entry of [...incoming.values()])
      entry.reject(new ExpertError('rejected', 'the worker stopped serving'));
  };

  /** The worker's network object closed: end its calls; a later `open` (a restarted Peer) reuses the network. */
  const reset = () => {
    stopServing();
    for (const ac of outgoing.values()) ac.abort();
    outgoing.clear();
  };

  const stop = () => {
    if (stopped) return;
    reset();
    stopped = true;
    for (const off of offs.splice(0)) off();
    unlisten();
  };

  const unlisten = listen(port, (data) => {
    if (stopped) return;
    const parsed = v.safeParse(UpSchema, data);
    if (!parsed.success) {
      const d = data as { t?: unknown; id?: unknown } | null;
      const reason = issuesText(parsed.issues);
      // A malformed answer to an incoming call still settles it.
      if (d?.t === 'served' && typeof d.id === 'number')
        incoming.get(d.id)?.reject(new ExpertError('invalid', `malformed answer from the worker: ${reason}`));
      if (d?.t === 'call' && typeof d.id === 'number')
        reply({ t: 'result', id: d.id, ok: false, code: 'invalid', message: reason.slice(0, 2000) });
      invalid(reason);
      return;
    }
    const msg = parsed.output;
    switch (msg.t) {
      case 'open':
        void doOpen();
        return;
      case 'call':
        void onCall(msg);
        return;
      case 'ping':
        void onPing(msg.id, msg.peerId);
        return;
      case 'cancel':
        outgoing.get(msg.id)?.abort();
        outgoing.delete(msg.id);
        return;
      case 'serve':
        if (msg.on) startServing();
        else stopServing();
        return;
      case 'served': {
        const entry = incoming.get(msg.id);
        if (!entry) return;
        if (!msg.ok) return entry.reject(new ExpertError(msg.code, msg.message));
        if (msg.tensor) {
          const bad = checkTensor(msg.tensor);
          if (bad) return entry.reject(new ExpertError('invalid', `the worker's answer: ${bad}`));
        }
        return entry.resolve(msg.tensor);
      }
      case 'close':
        reset();
        return;
    }
  });

  return {
    stop,
    get pendingCount() {
      return outgoing.size + incoming.size;
    },
    get dropped() {
      return dropped;
    },
  };
}
