/**
 * The page's side of a Peer running in peer.worker.ts. The page owns the
 * WebRTC mesh (RTCPeerConnection does not exist in workers) and exposes it to
 * the worker over three MessagePorts: the expert network (forward/backward
 * both ways, peers joining and leaving), the ledger transport (the ledger
 * rides the mesh's signaling socket), and control + snapshots (RemotePeer).
 * The page's main thread then only relays bytes between data channels and
 * the worker, and renders.
 */
import { joinNetwork } from '@peerbench/mesh';
import {
  exposeExpertNetwork,
  exposeLedgerTransport,
  initialSnapshot,
  type MessagePortLike,
  RemotePeer,
} from '@peerbench/peer/worker';
import { CpuControl } from './cpuControl.js';
import type { CpuLevel } from './cpuUse.js';
import type { PeerHandle, PeerLaunchOptions } from './runtime.js';
import { withSignalingOverlay } from './signalingOverlay.js';
import { type InitMessage, PORT_ORDER, parseWorkerEvent } from './workerProtocol.js';

/** Longest the worker may take to load (tfjs is most of its bundle) and create the Peer. */
export const WORKER_READY_TIMEOUT_MS = 30_000;

export class WorkerStartError extends Error {
  readonly code = 'worker-start-failed';
}

/**
 * Module workers exist: the `type` option is read only by browsers that
 * support it. The URL is invalid on purpose so no worker actually starts.
 */
export function moduleWorkersSupported(): boolean {
  if (typeof Worker !== 'function') return false;
  let supported = false;
  const probe = {
    get type() {
      supported = true;
      return 'module' as const;
    },
  };
  try {
    new Worker('blob://', probe).terminate();
  } catch {
    // Expected: the URL cannot load.
  }
  return supported;
}

const asPort = (p: MessagePort) => p as unknown as MessagePortLike;

interface WarmWorker {
  worker: Worker;
  /** Set when the script failed to load or threw before anyone listened. */
  error: string | null;
  /** Resolves when the worker's code has loaded (or failed to, or did not within the timeout). */
  loaded: Promise<void>;
}
let warm: WarmWorker | null = null;

function spawnWorker(): WarmWorker {
  const worker = new Worker(new URL('./peer.worker.ts', import.meta.url), {
    type: 'module',
    name: 'peerbench-peer',
  });
  let done: () => void = () => {};
  const w: WarmWorker = { worker, error: null, loaded: new Promise<void>((r) => (done = r)) };
  const timer = setTimeout(done, WORKER_READY_TIMEOUT_MS);
  worker.addEventListener('error', (e: ErrorEvent) => {
    e.preventDefault();
    w.error ??= e.message || 'the worker script failed to load';
    clearTimeout(timer);
    done();
  });
  worker.addEventListener('message', (e: MessageEvent) => {
    if (parseWorkerEvent(e.data)?.t !== 'loaded') return;
    clearTimeout(timer);
    done();
  });
  return w;
}

/**
 * Starts the Peer's worker at page load, before Contribute: its script and
 * tfjs are fetched and parsed (off the main thread) while the server that
 * served the page is surely up, so a server that is down when Contribute is
 * pressed is reported as such (and retried), not as a missing script. The
 * worker waits for its init message; `createWorkerPeer` takes it over.
 * Resolves once the worker's code has loaded (or failed: the fallback then
 * decides at Contribute).
 */
export function prewarmPeerWorker(): Promise<void> {
  if (warm) return warm.loaded;
  if (!moduleWorkersSupported()) return Promise.resolve();
  try {
    warm = spawnWorker();
    return warm.loaded;
  } catch {
    warm = null;
    return Promise.resolve();
  }
}

export async function createWorkerPeer(options: PeerLaunchOptions): Promise<PeerHandle> {
  const { identity, serverUrl } = options;
  if (!moduleWorkersSupported()) throw new WorkerStartError('this browser has no module workers');
  const taken = warm ?? spawnWorker();
  warm = null;
  if (taken.error !== null) {
    taken.worker.terminate();
    throw new WorkerStartError(taken.error);
  }
  const worker = taken.worker;
  // Joins the room now, retrying with backoff until the server answers.
  const network = joinNetwork({
    signalingUrl: options.serverUrls ?? serverUrl,
    room: options.room,
    identity,
    // Bounded neighbourhood: the mesh links only where the worker's neighbour policy asks, at most D.
    mesh: { neighbourhood: { maxLinks: options.degree } },
  });
  const channels = {
    control: new MessageChannel(),
    network: new MessageChannel(),
    ledger: new MessageChannel(),
  };
  const warn = (what: string) => (reason: string) =>
    console.warn(`peer bridge (${what}): dropped a message: ${reason}`);
  // The worker's Peer asks for the network when it starts; it gets it once the room is joined.
  const exposedNetwork = exposeExpertNetwork(
    asPort(channels.network.port1),
    async () => {
      await network.joined;
      return network.experts;
    },
    { onInvalid: warn('network') },
  );
  const exposedLedger = exposeLedgerTransport(asPort(channels.ledger.port1), network.ledger, {
    onInvalid: warn('ledger'),
  });
  const remote = new RemotePeer(
    asPort(channels.control.port1),
    initialSnapshot(identity.peerId, options.room),
    {
      onInvalid: warn('control'),
    },
  );

  let ready = false;
  let startedAtCpu: CpuLevel = options.cpu;
  let failStart: ((err: Error) => void) | null = null;
  const crashed = (message: string) => {
    // Logged as an error on purpose: a crashing worker is a bug (the e2e suite fails on console errors).
    console.error(`peer worker: ${message}`);
    if (ready)
      remote.fail('worker-failed', `Training stopped because its background worker failed: ${message}`);
    else failStart?.(new WorkerStartError(message));
  };
  worker.addEventListener('error', (e) => {
    e.preventDefault();
    crashed(e.message || 'the worker script failed to load or threw');
  });
  worker.addEventListener('messageerror', () => crashed('a message from the worker could not be read'));

  const whenReady = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new WorkerStartError(`the worker did not start within ${WORKER_READY_TIMEOUT_MS / 1000} s`)),
      WORKER_READY_TIMEOUT_MS,
    );
    failStart = (err) => {
      clearTimeout(timer);
      reject(err);
    };
    worker.addEventListener('message', (e: MessageEvent) => {
      const event = parseWorkerEvent(e.data);
      if (!event) return;
      if (event.t === 'loaded') return;
      if (event.t === 'ready') {
        clearTimeout(timer);
        startedAtCpu = event.cpu;
        if (event.peerId !== identity.peerId)
          reject(new WorkerStartError('the worker restored another identity'));
        else resolve();
      } else if (event.t === 'cpu') {
        // CpuControl's answers.
      } else if (event.t === 'init-failed') {
        crashed(`could not set up: ${event.message}`);
      } else {
        crashed(event.message);
      }
    });
  });

  const init: InitMessage = {
    t: 'init',
    secretKey: identity.secretKey,
    room: options.room,
    serverUrl,
    serverUrls: [...(options.serverUrls ?? [serverUrl])],
    backend: options.backend,
    backendTrial: options.backendTrial,
    wasmPaths: new URL(options.wasmPaths, window.location.href).toString(),
    cpu: options.cpu,
    degree: options.degree,
    testAdversary: options.testAdversary ?? null,
  };
  const ports = PORT_ORDER.map((name) => channels[name].port2);
  worker.postMessage(init, ports);

  const cpuControl = new CpuControl(worker);
  const teardown = () => {
    cpuControl.close();
    remote.close();
    exposedNetwork.stop();
    exposedLedger.stop();
    worker.terminate();
    for (const ch of Object.values(channels)) {
      ch.port1.close();
      ch.port2.close();
    }
  };
  try {
    await whenReady;
    ready = true;
  } catch (err) {
    teardown();
    await network.stop().catch(() => undefined);
    throw err;
  }

  const handle = withSignalingOverlay(
    remote,
    network.connection,
    serverUrl,
    'worker',
    async () => {
      // The worker's Peer stops and saves its model first; then the threads are torn down.
      await remote.stop();
      teardown();
      await network.stop();
    },
    network.mesh,
  );
  return { ...handle, cpuApplied: startedAtCpu, setCpu: (level) => cpuControl.set(level) };
}
