/**
 * The Peer on the page's main thread: the escape hatch (`?worker=0`) and the
 * fallback when the worker cannot start. Every training step is then a
 * main-thread task, so the cadence is the short one (peerConfig.ts CADENCE.main).
 */

import { parseGenesis, RemoteChain } from '@peerbench/ledger';
import { fetchGenesis, joinNetwork } from '@peerbench/mesh';
import { LedgerChainClient, Peer } from '@peerbench/peer';
import type { Identity } from '@peerbench/protocol';
import { env } from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { appPeerOptions } from './peerConfig.js';
import type { PeerFactory, PeerHandle, PeerLaunchOptions } from './runtime.js';
import { withSignalingOverlay } from './signalingOverlay.js';

// tfjs-backend-wasm starts its multi-threaded build in workers made from the
// source text of a bundled function; after minification that text refers to
// names that only exist in the main bundle ("e is not defined" in every
// worker). The single-threaded SIMD build has no such step.
env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);

export const createMainThreadPeer: PeerFactory = async (options: PeerLaunchOptions): Promise<PeerHandle> => {
  const { identity, serverUrl } = options;
  // Joins the room now, retrying with backoff until the server answers.
  const network = joinNetwork({
    signalingUrl: options.serverUrls ?? serverUrl,
    room: options.room,
    identity,
    // Bounded neighbourhood: the mesh links only where the Peer's neighbour policy asks, at most D.
    mesh: { neighbourhood: { maxLinks: options.degree } },
  });
  let chain: RemoteChain | null = null;
  let peer: Peer;
  try {
    peer = await Peer.create(
      appPeerOptions({
        identity,
        room: options.room,
        backend: options.backend,
        backendTrial: options.backendTrial,
        wasmPaths: options.wasmPaths,
        thread: 'main',
        degree: options.degree,
        testAdversary: options.testAdversary ?? null,
        network: async () => {
          await network.joined;
          return network.experts;
        },
        chain: async (id: Identity) => {
          // A restarted Peer asks again: the previous chain stops listening first.
          chain?.stop();
          chain = new RemoteChain({
            transport: network.ledger,
            genesis: await fetchGenesis(options.serverUrls ?? serverUrl, parseGenesis),
          });
          chain.start();
          return new LedgerChainClient(chain, id);
        },
      }),
    );
  } catch (err) {
    await network.stop();
    throw err;
  }
  return withSignalingOverlay(
    peer,
    network.connection,
    serverUrl,
    'main',
    async () => {
      await peer.stop();
      chain?.stop();
      chain = null;
      await network.stop();
    },
    network.mesh,
  );
};
