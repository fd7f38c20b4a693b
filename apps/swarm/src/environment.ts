/**
 * What a swarm runs in: the ledger (embedded, or a server's), the transport
 * the participants talk over (in memory, or WebRTC through a signaling
 * server, embedded or remote), and how the swarm's embedded ledger is set up
 * (ε, τ, whether w_ii counts in R).
 */
import { createSignalingServer, type SignalingServer } from '@peerbench/signaling-server';
import type { SwarmOptions } from './args.js';
import { embeddedLedger, remoteLedger, type SwarmLedger } from './ledger.js';
import { MemoryTransport, type SwarmTransport, WebRtcTransport } from './transport.js';

export interface SwarmEnvironment {
  ledger: SwarmLedger;
  transport: SwarmTransport;
  /** The embedded signaling server (--transport webrtc without --server), else null. */
  server: SignalingServer | null;
}

/** Opens the ledger, the signaling server when one is embedded, and the transport. */
export async function openEnvironment(opts: SwarmOptions): Promise<SwarmEnvironment> {
  if (opts.server !== null) {
    const ledger = await remoteLedger(opts.server);
    return { ledger, transport: new WebRtcTransport(opts.server, opts.room), server: null };
  }
  const local = await embeddedLedger({
    epsilon: opts.epsilon,
    tau: opts.tau,
    selfWeightsInRank: opts.selfWeights === 'count',
  });
  if (opts.transport !== 'webrtc')
    return { ledger: local, transport: new MemoryTransport(opts.degree), server: null };
  // The same server a deployment runs (rooms, signaling, ledger routes), on a free local port.
  const server = createSignalingServer({
    host: '127.0.0.1',
    port: 0,
    ledger: local.embedded.hook,
    shutdownGraceMs: 0,
  });
  try {
    await server.start();
  } catch (err) {
    await local.stop().catch(() => undefined);
    throw err;
  }
  return { ledger: local, transport: new WebRtcTransport(server.url, opts.room), server };
}
