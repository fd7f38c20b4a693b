/**
 * The Peer on the page's main thread: the escape hatch (`?worker=0`) and the
 * fallback when the worker cannot start. Every training step is then a
 * main-thread task, so the cadence is the short one (peerConfig.ts CADENCE.main).
 */
import { type Identity, RemoteChain } from '@peerbench/ledger';
import { LedgerChainClient, MeshExpertNetwork, Peer, PeerMesh } from '@peerbench/peer';
import { env } from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { appPeerOptions, fetchGenesis } from './peerConfig.js';
import type { PeerFactory, PeerHandle, PeerLaunchOptions } from './runtime.js';
import { ledgerTransportOf, withSignalingOverlay } from './signalingOverlay.js';

// tfjs-backend-wasm starts its multi-threaded build in workers made from the
// source text of a bundled function; after minification that text refers to
// names that only exist in the main bundle ("e is not defined" in every
// worker). The single-threaded SIMD build has no such step.
env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);

export const createMainThreadPeer: PeerFactory = async (options: PeerLaunchOptions): Promise<PeerHandle> => {
  const { identity, serverUrl } = options;
  const mesh = new PeerMesh({ signalingUrl: serverUrl, room: options.room, identity });
  const peer = await Peer.create(
    appPeerOptions({
      identity,
      room: options.room,
      backend: options.backend,
      backendTrial: options.backendTrial,
      wasmPaths: options.wasmPaths,
      thread: 'main',
      // Joins the room; waits (retrying with backoff) until the server answers.
      network: async (id: Identity) => {
        await mesh.start();
        return new MeshExpertNetwork(mesh, id.peerId);
      },
      chain: async (id: Identity) => {
        const chain = new RemoteChain({
          transport: ledgerTransportOf(mesh),
          genesis: await fetchGenesis(serverUrl),
        });
        chain.start();
        return new LedgerChainClient(chain, id);
      },
    }),
  );
  return withSignalingOverlay(peer, mesh, serverUrl, 'main', async () => {
    await peer.stop();
    await mesh.stop();
  });
};
