/**
 * The WebRTC mesh alone in a browser page, for the e2e mesh spec: join a room
 * through the real signaling server, answer `forward` with a function whose
 * result says who computed it, and call `forward` on the others. Only in the
 * e2e build (vite --mode e2e).
 */
import { PeerMesh } from '@peerbench/mesh';
import { generateIdentity } from '@peerbench/protocol';
import '../node-globals.js';
// The mesh alone, without tfjs: this page only exchanges tensors.

export const FORWARD_METHOD = 'forward';

/** f(x) = 2x + c where c is the responder's first id byte: a correct answer also proves who answered. */
export function expectedForward(responderId: string, x: number[]): number[] {
  const c = Number.parseInt(responderId.slice(0, 2), 16);
  return x.map((v) => 2 * v + c);
}

let mesh: PeerMesh | null = null;

const api = {
  async join(signalingUrl: string, room: string): Promise<string> {
    const identity = await generateIdentity();
    mesh = new PeerMesh({ signalingUrl, room, identity });
    const c = Number.parseInt(identity.peerId.slice(0, 2), 16);
    mesh.handle(FORWARD_METHOD, async (_ctx, tensors) =>
      tensors.map((t) => ({ shape: t.shape, data: t.data.map((v) => 2 * v + c) })),
    );
    await mesh.start();
    document.getElementById('out')!.textContent = `joined ${room} as ${identity.peerId}`;
    return identity.peerId;
  },
  connected(): string[] {
    return mesh?.connectedPeers() ?? [];
  },
  async forward(peerId: string, values: number[]): Promise<{ shape: number[]; data: number[] }> {
    if (!mesh) throw new Error('join first');
    const out = await mesh.request(
      peerId,
      FORWARD_METHOD,
      [{ shape: [values.length], data: Float32Array.from(values) }],
      {
        timeoutMs: 10_000,
      },
    );
    const t = out[0];
    if (!t) throw new Error('empty answer');
    return { shape: t.shape, data: Array.from(t.data) };
  },
  async leave(): Promise<void> {
    await mesh?.stop();
    mesh = null;
  },
};

declare global {
  interface Window {
    peerbenchMesh?: typeof api;
  }
}
window.peerbenchMesh = api;
