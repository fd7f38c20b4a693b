/**
 * The Peer's thread: tfjs training, the expert server answering other peers,
 * the scorer, the ledger's light client and weight txs, IndexedDB model
 * storage. The page keeps the WebRTC mesh (RTCPeerConnection does not exist
 * in workers) and reaches this file only through three MessagePorts
 * (packages/peer's worker bridges): the expert network, the ledger transport
 * (which rides the mesh's signaling socket), and control + snapshots.
 */
// Must stay the first import: the package entry loads the mesh's dependencies, which expect these globals.
import './node-globals.js';
import { parseGenesis, RemoteChain } from '@peerbench/ledger';
import { fetchGenesis } from '@peerbench/mesh';
import { LedgerChainClient, Peer } from '@peerbench/peer';
import {
  hostPeer,
  type MessagePortLike,
  PortExpertNetwork,
  PortLedgerTransport,
} from '@peerbench/peer/worker';
import { identityFromSecretKey } from '@peerbench/protocol';
import { env } from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { answerSetCpu } from './cpuControl.js';
import { type CpuLevel, levelOfPace, paceOf } from './cpuUse.js';
import { type Pace, PacedPeer } from './pacedPeer.js';
import { appPeerOptions } from './peerConfig.js';
import { type InitMessage, PORT_ORDER, parseInit, type WorkerEvent } from './workerProtocol.js';

// Same reason as on the page: the multi-threaded WASM build spawns workers from
// bundled source text that minification breaks. One thread per peer is the point anyway.
env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);

interface WorkerScope {
  postMessage(message: WorkerEvent): void;
  addEventListener(
    type: 'message',
    cb: (e: { data: unknown; ports: readonly MessagePortLike[] }) => void,
  ): void;
  addEventListener(type: 'error', cb: (e: { message?: string; error?: unknown }) => void): void;
  addEventListener(type: 'unhandledrejection', cb: (e: { reason: unknown }) => void): void;
}
const scope = globalThis as unknown as WorkerScope;

const text = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 4000);

// Nothing may fail silently here: the page logs and shows what this relays.
scope.addEventListener('unhandledrejection', (e) =>
  scope.postMessage({ t: 'uncaught', message: text(e.reason) }),
);

let started = false;
let paced: PacedPeer | null = null;
/** A set-cpu that arrived before the Peer existed (the page waits for ready, but a message is cheap to keep). */
let earlyLevel: CpuLevel | null = null;
const loop = {
  setPace(pace: Pace) {
    if (paced) paced.setPace(pace);
    else earlyLevel = levelOfPace(pace);
  },
};

async function init(
  msg: InitMessage,
  ports: Record<(typeof PORT_ORDER)[number], MessagePortLike>,
): Promise<void> {
  const identity = await identityFromSecretKey(msg.secretKey);
  let network: PortExpertNetwork | null = null;
  let ledger: PortLedgerTransport | null = null;
  let chain: RemoteChain | null = null;
  const peer = await Peer.create(
    appPeerOptions({
      identity,
      room: msg.room,
      backend: msg.backend,
      backendTrial: msg.backendTrial,
      wasmPaths: msg.wasmPaths,
      thread: 'worker',
      degree: msg.degree,
      testAdversary: msg.testAdversary,
      // The page opens the mesh (waiting, with retries, until the server answers).
      network: async (id) => {
        network?.close();
        network = await PortExpertNetwork.connect(ports.network, id.peerId, {
          onInvalid: (r) => console.warn(`peer worker: dropped a network message (${r})`),
        });
        return network;
      },
      // The chain client verifies blocks here; only its transport is on the page.
      chain: async (id) => {
        // A restarted Peer asks again: the previous chain and its transport stop first.
        chain?.stop();
        ledger?.close();
        ledger = new PortLedgerTransport(ports.ledger, {
          onInvalid: (r) => console.warn(`peer worker: dropped a ledger message (${r})`),
        });
        chain = new RemoteChain({
          transport: ledger,
          genesis: await fetchGenesis(msg.serverUrls ?? msg.serverUrl, parseGenesis),
        });
        chain.start();
        return new LedgerChainClient(chain, id);
      },
    }),
  );
  const cpu = earlyLevel ?? msg.cpu;
  paced = new PacedPeer(peer, paceOf(cpu));
  hostPeer(ports.control, paced);
  scope.postMessage({ t: 'ready', peerId: peer.peerId, cpu });
}

scope.addEventListener('message', (e) => {
  const answer = answerSetCpu(e.data, loop);
  if (answer) {
    scope.postMessage(answer);
    return;
  }
  if (started) return;
  const msg = parseInit(e.data);
  if (typeof msg === 'string') {
    scope.postMessage({ t: 'init-failed', message: `bad init message: ${msg}` });
    return;
  }
  const [control, network, ledger] = e.ports;
  if (!control || !network || !ledger || e.ports.length !== PORT_ORDER.length) {
    scope.postMessage({
      t: 'init-failed',
      message: `expected ${PORT_ORDER.length} ports, got ${e.ports.length}`,
    });
    return;
  }
  started = true;
  init(msg, { control, network, ledger }).catch((err: unknown) =>
    scope.postMessage({ t: 'init-failed', message: text(err) }),
  );
});

// Every static import has loaded and run: the page may now let the person press Contribute.
scope.postMessage({ t: 'loaded' });
