/**
 * The mesh with real parts: the real signaling server on 127.0.0.1, real
 * WebRTC (@roamhq/wrtc), real WebSockets (ws), real Ed25519 joins.
 */
import { generateIdentity, RpcError, type WireTensor } from '@peerbench/protocol';
import { createSignalingServer, type SignalingServer } from '@peerbench/signaling-server';
import wrtc from '@roamhq/wrtc';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { PeerMesh } from '../src/index.js';
import { startChildPeer } from './child-peer.js';

const WS = WebSocket;
const ROOM = 'mesh-it';

function tensor(n: number, seed: number): WireTensor {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.cos(i * 0.11 + seed) * (1 + (i % 13));
  return { shape: [n / 8, 8], data };
}

async function makePeer(
  url: string,
  maxPeers?: number,
  beforeStart?: (mesh: PeerMesh) => void,
): Promise<PeerMesh> {
  const mesh = new PeerMesh({
    signalingUrl: url,
    room: ROOM,
    identity: await generateIdentity(),
    wrtc,
    WebSocket: WS,
    reconnectInitialDelayMs: 50,
    reconnectMaxDelayMs: 400,
    ...(maxPeers ? { maxPeers } : {}),
  });
  // y = 2x + (last hex digit of the responder's id): proves who answered, and the direction.
  const k = Number.parseInt(mesh.peerId.slice(-1), 16);
  mesh.handle('affine', async (_ctx, ts) =>
    ts.map((t) => ({ shape: t.shape, data: t.data.map((x) => 2 * x + k) })),
  );
  mesh.handle('echo', async (_ctx, ts) => ts);
  beforeStart?.(mesh);
  await mesh.start();
  return mesh;
}

describe('PeerMesh over the real signaling server and real WebRTC', () => {
  let server: SignalingServer;
  let port: number;
  const peers: PeerMesh[] = [];

  beforeAll(async () => {
    server = createSignalingServer({ host: '127.0.0.1', port: 0, shutdownGraceMs: 0 });
    await server.start();
    port = server.port;
    for (let i = 0; i < 4; i++) peers.push(await makePeer(server.url));
    await vi.waitFor(
      () =>
        expect(
          peers.every((p) => p.connectedPeers().length === 3),
          'full mesh of 4',
        ).toBe(true),
      { timeout: 20_000, interval: 20 },
    );
  }, 30_000);

  afterAll(async () => {
    await Promise.all(peers.map((p) => p.stop()));
    await server.stop();
  });

  it('4 peers exchange tensors both ways: exact in fp32, within 1e-3 in fp16', async () => {
    const jobs: Promise<void>[] = [];
    for (const from of peers) {
      for (const to of peers) {
        if (from === to) continue;
        const k = Number.parseInt(to.peerId.slice(-1), 16);
        const x = tensor(4096, k + from.peerId.charCodeAt(0));
        const want = x.data.map((v) => 2 * v + k);
        jobs.push(
          from.request(to.peerId, 'affine', [x], { timeoutMs: 10_000 }).then(([y]) => {
            expect(y!.shape).toEqual(x.shape);
            expect(
              Buffer.compare(
                Buffer.from(y!.data.buffer, y!.data.byteOffset, y!.data.byteLength),
                Buffer.from(want.buffer),
              ),
            ).toBe(0);
          }),
          from.request(to.peerId, 'affine', [x], { timeoutMs: 10_000, wireDtype: 'fp16' }).then(([y]) => {
            // Both legs travel as fp16: the request rounds x, the response rounds 2x+k.
            for (let i = 0; i < want.length; i++) {
              const tol = 1e-3 * Math.abs(want[i]!) + 1e-3 * 2 * Math.abs(x.data[i]!);
              if (!(Math.abs(y!.data[i]! - want[i]!) <= tol)) throw new Error(`fp16 value ${i} off`);
            }
          }),
        );
      }
    }
    await Promise.all(jobs);
    expect(jobs.length).toBe(24);
    for (const p of peers) for (const q of p.connectedPeers()) expect(p.linkStats(q)?.invalidFrames).toBe(0);
  }, 30_000);

  it('re-establishes a data channel that drops while both peers stay in the room', async () => {
    const [x, y] = [peers[0]!, peers[1]!];
    const lower = x.peerId < y.peerId ? x : y;
    const higher = lower === x ? y : x;
    const seen: string[] = [];
    const offs = [
      lower.on('peer-disconnected', (id) => id === higher.peerId && seen.push('down')),
      lower.on('peer-connected', (id) => id === higher.peerId && seen.push('up')),
    ];
    // Drop the link from the answerer's side: the offerer must notice and offer again.
    const internals = higher as unknown as {
      peers: { get(id: string): { connection?: { destroy(r: string): void } } | undefined };
    };
    internals.peers.get(lower.peerId)!.connection!.destroy('test: channel dropped');
    await vi.waitFor(
      () => expect(seen.join(',') === 'down,up', 'link dropped and re-established').toBe(true),
      { timeout: 20_000, interval: 20 },
    );
    await vi.waitFor(
      () => expect(higher.connectedPeers().includes(lower.peerId), 'answerer side open').toBe(true),
      { timeout: 10_000, interval: 20 },
    );
    for (const o of offs) o();
    const [a] = await lower.request(higher.peerId, 'echo', [tensor(64, 9)]);
    const [b] = await higher.request(lower.peerId, 'echo', [tensor(64, 10)]);
    expect(a!.data).toEqual(tensor(64, 9).data);
    expect(b!.data).toEqual(tensor(64, 10).data);
  }, 30_000);

  it("keeps a live link when only the other peer's signaling socket drops (peer-left, then rejoin)", async () => {
    const [x, y] = [peers[2]!, peers[3]!];
    const events: string[] = [];
    const off = x.on('peer-disconnected', (id) => id === y.peerId && events.push('down'));
    const sawLeft = new Promise<void>((resolve) => {
      const stop = x.signaling.on('peer-left', (id) => {
        if (id === y.peerId) {
          stop();
          resolve();
        }
      });
    });
    // Close y's signaling socket under it (as a proxy idle timeout would): the
    // server tells x that y left; y's client reconnects by itself.
    const ws = (y.signaling as unknown as { ws?: { close(): void } }).ws;
    expect(ws).toBeDefined();
    ws!.close();
    await sawLeft;
    // x probes the link with a ping when it hears peer-left (sent before this
    // test's listener ran); its pong is the next data x receives from y.
    const receivedAtLeft = x.linkStats(y.peerId)!.bytesReceived;
    await vi.waitFor(
      () =>
        expect(
          x.signaling.peers().some((p) => p.peerId === y.peerId),
          'y back in the room',
        ).toBe(true),
      { timeout: 10_000, interval: 20 },
    );
    // The probe after peer-left answered: the link was never torn down.
    await vi.waitFor(() => expect(x.linkStats(y.peerId)!.bytesReceived).toBeGreaterThan(receivedAtLeft), {
      timeout: 5000,
      interval: 20,
    });
    off();
    expect(events).toEqual([]);
    expect(x.connectedPeers()).toContain(y.peerId);
    const [echo] = await x.request(y.peerId, 'echo', [tensor(64, 11)]);
    expect(echo!.data).toEqual(tensor(64, 11).data);
  }, 30_000);

  it('a peer killed mid-request fails the request with peer-gone or timeout', async () => {
    const caller = peers[0]!;
    const { child, peerId: childId, output } = await startChildPeer(server.url, ROOM, caller);
    try {
      const t0 = Date.now();
      const timeoutMs = 8_000;
      const p = caller.request(childId, 'hang', [tensor(64, 1)], { timeoutMs });
      await vi.waitFor(() => expect(output().includes('started hang'), 'child handler started').toBe(true), {
        timeout: 10_000,
        interval: 20,
      });
      child.kill('SIGKILL');
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RpcError);
      expect(['peer-gone', 'timeout']).toContain((err as RpcError).code);
      console.error(`killed peer: request failed with ${(err as RpcError).code} after ${Date.now() - t0} ms`);
      // The rest of the mesh is unaffected.
      const [y] = await caller.request(peers[1]!.peerId, 'echo', [tensor(64, 2)]);
      expect(y!.data).toEqual(tensor(64, 2).data);
    } finally {
      child.kill('SIGKILL');
    }
  }, 40_000);

  it('reconnects by itself after the server restarts on the same port, and peers can talk again', async () => {
    const states: string[] = [];
    const off = peers[0]!.on('connection', (s) => states.push(s));
    await server.stop();
    await vi.waitFor(
      () =>
        expect(
          peers.every((p) => p.signaling.state === 'reconnecting'),
          'peers notice the restart',
        ).toBe(true),
      { timeout: 10_000, interval: 20 },
    );
    server = createSignalingServer({ host: '127.0.0.1', port, shutdownGraceMs: 0 });
    await server.start();
    await vi.waitFor(
      () =>
        expect(
          peers.every((p) => p.signaling.state === 'connected'),
          'peers rejoin',
        ).toBe(true),
      { timeout: 15_000, interval: 20 },
    );
    expect(states).toContain('reconnecting');
    expect(states[states.length - 1]).toBe('connected');
    off();
    // A newcomer after the restart can only have found the others through the new server.
    const late = await makePeer(server.url);
    peers.push(late);
    await vi.waitFor(() => expect(late.connectedPeers().length === 4, 'newcomer linked to all').toBe(true), {
      timeout: 20_000,
      interval: 20,
    });
    for (const p of peers) {
      if (p === late) continue;
      const [a] = await late.request(p.peerId, 'echo', [tensor(16, 3)]);
      const [b] = await p.request(late.peerId, 'echo', [tensor(16, 4)]);
      expect(a!.data).toEqual(tensor(16, 3).data);
      expect(b!.data).toEqual(tensor(16, 4).data);
    }
    // And ledger traffic goes through the new server too (it runs without a ledger here).
    const r = await late.signaling.sendLedgerTx({ kind: 'noop' });
    expect(r.ok).toBe(false);
    expect(r.code).toBe('ledger-unavailable');
    expect(typeof (await late.ping(peers[0]!.peerId))).toBe('number');
  }, 40_000);

  it('caps links at maxPeers', async () => {
    // Offers the capped peer receives, by sender: every lower id offers once it hears of the newcomer.
    const offersFrom = new Set<string>();
    const capped = await makePeer(server.url, 2, (mesh) =>
      mesh.signaling.on('signal', ({ from, data }) => {
        if (data.type === 'offer') offersFrom.add(from);
      }),
    );
    try {
      await vi.waitFor(() => expect(capped.connectedPeers().length === 2, 'two links').toBe(true), {
        timeout: 20_000,
        interval: 20,
      });
      // Wait until every member with a lower id has offered (those are the links
      // the cap must refuse): the cap must hold.
      const lower = () => capped.signaling.peers().filter((p) => p.peerId < capped.peerId);
      await vi.waitFor(() => expect(lower().every((p) => offersFrom.has(p.peerId))).toBe(true), {
        timeout: 20_000,
        interval: 20,
      });
      expect(capped.connectedPeers().length).toBe(2);
    } finally {
      await capped.stop();
    }
  }, 30_000);
});
