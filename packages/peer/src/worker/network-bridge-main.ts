/**
 * The main thread's side of the network bridge (network-bridge.ts has the
 * worker's): serves the worker's PortExpertNetwork with a real network,
 * forwarding its calls out and routing incoming expert calls into it.
 */
import { ExpertError, type ExpertNetwork, type WireTensor } from '@peerbench/mesh';
import { PendingCalls } from '@peerbench/protocol';
import { neighbourhoodInfo, serveNeighbourhood } from './neighbourhood-bridge.js';
import { type Down, SERVE_CALL_TIMEOUT_MS, send, type Up, UpSchema } from './network-bridge-wire.js';
import { type BridgeOptions, checkTensor, errorFields, type MessagePortLike, PortInbox } from './port.js';

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
  let unserve: (() => void) | null = null;
  const offs: Array<() => void> = [];
  const outgoing = new Map<number, AbortController>();
  /** Incoming expert calls handed to the worker, waiting for its answer. */
  const incoming = new PendingCalls<WireTensor | undefined>({
    timeoutError: (ms) => new ExpertError('timeout', `the worker did not answer within ${ms} ms`),
    abortError: () => new ExpertError('cancelled', 'the caller cancelled'),
    onGiveUp: (id) => reply({ t: 'serve-cancel', id }),
  });

  const reply = (message: Down, tensor?: WireTensor) => {
    if (!inbox.closed) send(port, message, tensor);
  };
  /** The worker's link, unlink and sample requests, on the network's Neighbourhood (when it has one). */
  const hood = serveNeighbourhood(() => network?.neighbourhood ?? null, reply);
  const opened = (net: ExpertNetwork): Down => ({
    t: 'opened',
    peers: net.peers(),
    ...(net.neighbourhood ? { neighbourhood: neighbourhoodInfo(net.neighbourhood) } : {}),
  });

  /** An incoming expert call from a remote peer, handed to the worker. */
  const intoWorker = (
    op: 'forward' | 'backward',
    from: string,
    rid: string,
    t: WireTensor,
    signal: AbortSignal,
  ): Promise<WireTensor | undefined> => {
    if (inbox.closed) return Promise.reject(new ExpertError('rejected', 'not serving'));
    if (signal.aborted) return Promise.reject(new ExpertError('cancelled', 'aborted'));
    const bad = checkTensor(t);
    if (bad) return Promise.reject(new ExpertError('invalid', bad));
    const call = incoming.add({ timeoutMs: SERVE_CALL_TIMEOUT_MS, signal, context: undefined });
    reply(
      { t: 'serve-call', id: call.id, op, from, rid, tensor: { shape: [], data: new Float32Array(0) } },
      t,
    );
    return call.promise;
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
      if (network) reply(opened(network));
      return;
    }
    opening = true;
    try {
      const net = await open();
      if (inbox.closed) return;
      network = net;
      if (net.on) {
        for (const event of ['peer-connected', 'peer-disconnected'] as const)
          offs.push(
            net.on(event, (peerId) => {
              reply({ t: 'peer', event, peerId });
              // Whoever linked to us (or left) changes the members the worker may pick from.
              hood.push();
            }),
          );
      }
      reply(opened(net));
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
    incoming.rejectAll(new ExpertError('rejected', 'the worker stopped serving'));
  };

  /** The worker's network object closed: end its calls; a later `open` (a restarted Peer) reuses the network. */
  const reset = () => {
    stopServing();
    for (const ac of outgoing.values()) ac.abort();
    outgoing.clear();
  };

  const stop = () => {
    if (inbox.closed) return;
    reset();
    inbox.close();
    for (const off of offs.splice(0)) off();
  };

  const onMalformed = (data: unknown, reason: string) => {
    const d = data as { t?: unknown; id?: unknown } | null;
    // A malformed answer to an incoming call still settles it.
    if (d?.t === 'served' && typeof d.id === 'number')
      incoming.reject(d.id, new ExpertError('invalid', `malformed answer from the worker: ${reason}`));
    if (d?.t === 'call' && typeof d.id === 'number')
      reply({ t: 'result', id: d.id, ok: false, code: 'invalid', message: reason.slice(0, 2000) });
  };

  const inbox = new PortInbox(
    port,
    UpSchema,
    (msg: Up) => {
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
          if (!incoming.has(msg.id)) return;
          if (!msg.ok) {
            incoming.reject(msg.id, new ExpertError(msg.code, msg.message));
            return;
          }
          const bad = msg.tensor ? checkTensor(msg.tensor) : null;
          if (bad) incoming.reject(msg.id, new ExpertError('invalid', `the worker's answer: ${bad}`));
          else incoming.resolve(msg.id, msg.tensor);
          return;
        }
        case 'close':
          reset();
          return;
        case 'link':
        case 'unlink':
        case 'sample':
          hood.onMessage(msg);
          return;
      }
    },
    { ...opts, onMalformed },
  );

  return {
    stop,
    get pendingCount() {
      return outgoing.size + incoming.size;
    },
    get dropped() {
      return inbox.dropped;
    },
  };
}
