/**
 * The Neighbourhood compliance suite (neighbourhood-compliance.ts, from h14p
 * on main; this copy is byte-identical to main's) run over the WebRTC mesh:
 * PeerMesh with `neighbourhood: { maxLinks }`, @roamhq/wrtc, a real
 * signaling server on 127.0.0.1 per test.
 */
import { generateIdentity } from '@peerbench/protocol';
import { createSignalingServer } from '@peerbench/signaling-server';
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { MeshExpertNetwork, PeerMesh } from '../src/index.js';
import { describeNeighbourhoodCompliance } from './neighbourhood-compliance.js';

describeNeighbourhoodCompliance('PeerMesh over WebRTC', () => {
  const server = createSignalingServer({ port: 0, shutdownGraceMs: 0 });
  const meshes: PeerMesh[] = [];
  return {
    async peers(count, maxLinks) {
      await server.start();
      const room = `c-${Math.random().toString(36).slice(2)}`;
      const nets = [];
      for (let i = 0; i < count; i++) {
        const m = new PeerMesh({
          signalingUrl: server.url,
          room,
          identity: await generateIdentity(),
          wrtc,
          WebSocket: WebSocket,
          neighbourhood: { maxLinks },
        });
        meshes.push(m);
        await m.start();
        nets.push(new MeshExpertNetwork(m, m.peerId));
      }
      return nets;
    },
    async stop() {
      await Promise.all(meshes.map((m) => m.stop()));
      await server.stop();
    },
  };
});
