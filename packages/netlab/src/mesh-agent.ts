/**
 * A PeerMesh (@peerbench/mesh, real @roamhq/wrtc and ws) inside a lab
 * namespace, driven over IPC by the test (mesh-peer.ts): it joins the lab's
 * signaling server and reports every link event of the mesh (state,
 * connection type, failures) and every fresh-credentials answer.
 */
import { PeerMesh } from '@peerbench/mesh';
import { generateIdentity } from '@peerbench/protocol';
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { type AgentStop, serveParent } from './agent-child.js';
import type { FromMeshAgent, MeshAgentStart, ToMeshAgent } from './mesh-agent-protocol.js';

const send = (msg: FromMeshAgent): void => {
  process.send?.(msg);
};
const now = () => Math.round(performance.now());
let mesh: PeerMesh | null = null;

async function start(msg: MeshAgentStart): Promise<void> {
  const m = new PeerMesh({
    signalingUrl: msg.signalingUrl,
    room: msg.room,
    identity: await generateIdentity(),
    wrtc,
    WebSocket: WebSocket,
    ...(msg.connectTimeoutMs !== undefined ? { connectTimeoutMs: msg.connectTimeoutMs } : {}),
    ...(msg.linkReportDebounceMs !== undefined ? { linkReportDebounceMs: msg.linkReportDebounceMs } : {}),
  });
  mesh = m;
  m.on('link', (info) => send({ type: 'link', info, atMs: now() }));
  m.signaling.on('state', (state) => send({ type: 'signaling', state, atMs: now() }));
  m.signaling.on('ice-servers', (servers) =>
    send({
      type: 'ice-servers',
      usernames: servers.flatMap((s) => (s.username ? [s.username] : [])),
      turnRefreshes: m.turnRefreshes,
      atMs: now(),
    }),
  );
  await m.start();
  send({ type: 'started', peerId: m.peerId });
}

async function handle(msg: Exclude<ToMeshAgent, AgentStop>): Promise<void> {
  switch (msg.type) {
    case 'start':
      return start(msg);
    case 'ping': {
      try {
        const rttMs = await (mesh ? mesh.ping(msg.peerId, 10_000) : Promise.reject(new Error('not started')));
        send({ type: 'pong', requestId: msg.requestId, rttMs });
      } catch (err) {
        send({ type: 'pong', requestId: msg.requestId, rttMs: null, error: String(err) });
      }
      return;
    }
  }
}

// Links closed before exit, so coturn frees their allocations.
serveParent(handle, { stop: { run: async () => mesh?.stop(), exitGraceMs: 50 } });
