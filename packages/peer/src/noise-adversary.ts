/**
 * The noise adversary of issue 7, for experiments and tests only: an expert
 * that answers every forward with uniform noise in [-1, 1] (the range of an
 * honest tanh encoder, so the callers' shape and finiteness checks pass) and
 * ignores every gradient. apps/swarm serves it as a bare endpoint
 * (`--adversary noise:N`); apps/web's test-only `?adversary=noise` puts it in
 * front of a real Peer (`withNoiseAnswers`), so that tab trains and scores
 * like anyone else but gives the others nothing of value. The ledger's rank is
 * supposed to find it out: peers whose removal costs the others nothing must
 * end below every honest peer.
 */

import { createRng } from '@peerbench/mechanism';
import type { ExpertHandlers, ExpertNetwork, WireTensor } from '@peerbench/mesh';

/** Handlers answering `[rows, d]` seeded uniform noise in [-1, 1] and dropping gradients. */
export function noiseHandlers(d: number, seed: number): ExpertHandlers {
  if (!Number.isSafeInteger(d) || d < 1)
    throw new RangeError(`noise answers need a positive width, got ${d}`);
  const rng = createRng(seed);
  return {
    async forward(_from, _requestId, x: WireTensor): Promise<WireTensor> {
      const rows = x.shape[0] ?? 0;
      const data = new Float32Array(rows * d);
      for (let q = 0; q < data.length; q++) data[q] = rng.next() * 2 - 1;
      return { shape: [rows, d], data };
    },
    async backward() {},
  };
}

/**
 * The same network, except that whatever this peer serves is replaced by
 * `noiseHandlers(d, seed)`: its own calls to other experts are untouched, so
 * the Peer behind it trains and scores normally while every other peer gets
 * noise from it. `d` must be the width the network's experts answer with
 * (the model's representation size), or callers reject the answers as
 * malformed instead of having to judge them.
 */
export function withNoiseAnswers(network: ExpertNetwork, d: number, seed: number): ExpertNetwork {
  const noise = noiseHandlers(d, seed);
  const wrapped: ExpertNetwork = {
    selfId: network.selfId,
    peers: () => network.peers(),
    forward: (peerId, x, opts) => network.forward(peerId, x, opts),
    backward: (peerId, grad, opts) => network.backward(peerId, grad, opts),
    serve: (_honest: ExpertHandlers) => network.serve(noise),
    ...(network.neighbourhood ? { neighbourhood: network.neighbourhood } : {}),
  };
  if (network.ping) wrapped.ping = network.ping.bind(network);
  if (network.on) wrapped.on = network.on.bind(network);
  return wrapped;
}
