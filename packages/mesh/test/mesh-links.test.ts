/**
 * Link status over real parts (signaling server on 127.0.0.1, @roamhq/wrtc,
 * ws): the connection type each side reads from its selected candidate pair,
 * the connect deadline that turns a link that cannot be made into `failed` on
 * both sides, and the `closed` event when a peer leaves.
 */
import { generateIdentity } from '@peerbench/protocol';
import { createSignalingServer, type SignalingServer } from '@peerbench/signaling-server';
import wrtc from '@roamhq/wrtc';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { type LinkInfo, PeerMesh, type PeerMeshOptions } from '../src/index.js';

const WS = WebSocket;

/**
 * A WebSocket that never lets an ICE candidate out (trickled, or inside an
 * SDP): neither side has a pair to check, so no link can form.
 */
class CandidateDroppingWebSocket extends WebSocket {
  override send(data: unknown, ...rest: unknown[]): void {
    let out = data;
    if (typeof data === 'string' && data.includes('"type":"signal"')) {
      const msg = JSON.parse(data) as { data: { type: string; sdp?: string } };
      if (msg.data.type === 'candidate') return;
      if (msg.data.sdp) msg.data.sdp = msg.data.sdp.replace(/^a=candidate:.*\r?\n/gm, '');
      out = JSON.stringify(msg);
    }
    (super.send as (d: unknown, ...r: unknown[]) => void)(out, ...rest);
  }
}

describe('PeerMesh link status', () => {
  let server: SignalingServer;
  const meshes: PeerMesh[] = [];

  beforeAll(async () => {
    server = createSignalingServer({ host: '127.0.0.1', port: 0, shutdownGraceMs: 0 });
    await server.start();
  });

  afterEach(async () => {
    await Promise.all(meshes.splice(0).map((m) => m.stop()));
  });

  afterAll(async () => {
    await server.stop();
  });

  async function mesh(
    room: string,
    opts: Partial<PeerMeshOptions> = {},
  ): Promise<{ mesh: PeerMesh; seen: LinkInfo[] }> {
    const m = new PeerMesh({
      signalingUrl: server.url,
      room,
      identity: await generateIdentity(),
      wrtc,
      WebSocket: WS,
      ...opts,
    });
    const seen: LinkInfo[] = [];
    m.on('link', (info) => seen.push(info));
    meshes.push(m);
    await m.start();
    return { mesh: m, seen };
  }

  it('two peers on 127.0.0.1 both report a connected direct-host link, read from the selected pair, to the server too', async () => {
    const a = await mesh('links-host', { linkReportDebounceMs: 20 });
    const b = await mesh('links-host', { linkReportDebounceMs: 20 });
    for (const [self, other] of [
      [a, b],
      [b, a],
    ] as const) {
      await vi.waitFor(
        () => {
          const link = self.mesh.links().find((l) => l.peerId === other.mesh.peerId);
          expect(link?.state).toBe('connected');
          expect(link?.type).toBe('direct-host');
        },
        { timeout: 20_000, interval: 20 },
      );
      const link = self.mesh.links()[0]!;
      expect(link.pair?.relayed).toBe(false);
      expect(link.pair?.local.candidateType).toBe('host');
      expect(link.pair?.remote.candidateType).toBe('host');
      expect(link.failures).toBe(0);
      // The event stream went connecting → connected → (type known), never failed.
      const states = self.seen.filter((l) => l.peerId === other.mesh.peerId).map((l) => l.state);
      expect(states[0]).toBe('connecting');
      expect(states).toContain('connected');
      expect(states).not.toContain('failed');
    }

    // Both ends reported their link: the server counts two direct-host ends.
    await vi.waitFor(() => expect(server.metrics().links.connectedByType['direct-host']).toBe(2), {
      timeout: 5_000,
      interval: 20,
    });

    // The peer leaves: its entry goes, with a `closed` event, and the server counts no link.
    const leaving = b.mesh.peerId;
    await b.mesh.stop();
    await vi.waitFor(() => expect(a.mesh.links()).toEqual([]), { timeout: 10_000, interval: 20 });
    expect(a.seen.at(-1)).toMatchObject({ peerId: leaving, state: 'closed' });
    await vi.waitFor(() => expect(server.metrics().links.byState.connected).toBe(0), {
      timeout: 5_000,
      interval: 20,
    });
  }, 30_000);

  it('a link that cannot be made is closed at the deadline and reported failed, with the reason, on both sides', async () => {
    const deadlineMs = 1_500;
    const opts = {
      WebSocket: CandidateDroppingWebSocket,
      connectTimeoutMs: deadlineMs,
    };
    const a = await mesh('links-fail', opts);
    const b = await mesh('links-fail', opts);
    for (const [self, other] of [
      [a, b],
      [b, a],
    ] as const) {
      await vi.waitFor(
        () =>
          expect(self.seen).toContainEqual(
            expect.objectContaining({
              peerId: other.mesh.peerId,
              state: 'failed',
              reason: `not connected within ${deadlineMs} ms`,
              type: null,
            }),
          ),
        { timeout: 20_000, interval: 20 },
      );
      const failed = self.seen.find((l) => l.state === 'failed');
      expect(self.mesh.turnRefreshes).toBe(0);
      expect(failed?.failures).toBeGreaterThanOrEqual(1);
      expect(self.seen.some((l) => l.state === 'connected')).toBe(false);
      expect(self.mesh.connectedPeers()).toEqual([]);
    }
  }, 30_000);
});
