/**
 * The real signaling server (@peerbench/signaling-server, no ledger) on the
 * lab's public segment, driven over IPC (mesh-peer.ts): TURN REST
 * credentials from the server's own turn-credentials.ts, optionally expired
 * in each peer's first welcome; `metrics` answers with server.metrics().
 */
import {
  createSignalingServer,
  iceServersWithTurnCredentials,
  type SignalingServer,
} from '@peerbench/signaling-server';
import { type AgentStop, serveParent } from './agent-child.js';
import type { FromSignalingAgent, SignalingAgentConfig, ToSignalingAgent } from './mesh-agent-protocol.js';

const send = (msg: FromSignalingAgent): void => {
  process.send?.(msg);
};
let server: SignalingServer | null = null;

async function start(config: SignalingAgentConfig): Promise<void> {
  const turn = config.turn;
  const welcomed = new Set<string>();
  server = createSignalingServer({
    host: config.host,
    port: config.port,
    shutdownGraceMs: 500,
    ...(turn
      ? {
          iceServersForPeer: (peerId: string) => {
            const stale = config.expiredFirst === true && !welcomed.has(peerId);
            welcomed.add(peerId);
            // Issued two TTLs ago: expired one TTL ago.
            return iceServersWithTurnCredentials(turn, peerId, Date.now() - (stale ? 2_000 * turn.ttlS : 0));
          },
        }
      : {}),
  });
  await server.start();
  send({ type: 'listening', url: server.url });
}

async function handle(msg: Exclude<ToSignalingAgent, AgentStop>): Promise<void> {
  switch (msg.type) {
    case 'start':
      return start(msg.config);
    case 'metrics':
      if (server) send({ type: 'metrics', metrics: server.metrics() });
      return;
  }
}

serveParent(handle, { stop: { run: async () => server?.stop(), exitGraceMs: 20 } });
