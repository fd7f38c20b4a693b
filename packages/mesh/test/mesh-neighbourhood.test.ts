/**
 * PeerMesh's Neighbourhood (issue 14) over real parts: a signaling server on
 * 127.0.0.1, @roamhq/wrtc, ws. With `neighbourhood: { maxLinks }` the mesh
 * links to nobody by itself; link(id) opens a link whichever id is lower;
 * links are symmetric and at most maxLinks; the side that is full refuses at
 * once (not at the connect deadline); unlink closes both ends and nothing
 * re-forms it; candidates come from the server's sample.
 */
import { generateIdentity, type Identity } from '@peerbench/protocol';
import { createSignalingServer, type SignalingServer } from '@peerbench/signaling-server';
import wrtc from '@roamhq/wrtc';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { MeshExpertNetwork, PeerMesh, SignalingClient } from '../src/index.js';

const WS = WebSocket;
/** Long, so a refusal that waited for the deadline would time the test out instead of passing. */
const CONNECT_DEADLINE_MS = 120_000;
const WAIT = { timeout: 20_000, interval: 20 };

describe('PeerMesh neighbourhood', () => {
  let server: SignalingServer;
  const meshes: PeerMesh[] = [];

  beforeAll(async () => {
    server = createSignalingServer({ port: 0, shutdownGraceMs: 0, presenceSampleSize: 4 });
    await server.start();
  });
  afterEach(async () => {
    await Promise.all(meshes.splice(0).map((m) => m.stop()));
  });
  afterAll(async () => {
    await server.stop();
  });

  /** Identities sorted by peer id: ids[0] < ids[1] < … (the lower id is the offerer). */
  async function sortedIdentities(n: number): Promise<Identity[]> {
    const ids = await Promise.all(Array.from({ length: n }, () => generateIdentity()));
    return ids.sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
  }

  async function mesh(room: string, identity: Identity, maxLinks = 2): Promise<PeerMesh> {
    const m = new PeerMesh({
      signalingUrl: server.url,
      room,
      identity,
      wrtc,
      WebSocket: WS,
      connectTimeoutMs: CONNECT_DEADLINE_MS,
      neighbourhood: { maxLinks },
    });
    meshes.push(m);
    await m.start();
    return m;
  }

  const hood = (m: PeerMesh) => {
    const h = m.neighbourhood;
    if (!h) throw new Error('no neighbourhood');
    return h;
  };

  it('links nobody by itself; link() works from the lower and from the higher id, symmetric', async () => {
    const [lo, mid, hi] = await sortedIdentities(3);
    const a = await mesh('order', lo!);
    const b = await mesh('order', mid!);
    const c = await mesh('order', hi!);
    expect(hood(a).maxLinks).toBe(2);
    // The higher id asks the lower one for an offer.
    expect(await hood(c).link(a.peerId)).toBe(true);
    // The lower id offers.
    expect(await hood(a).link(b.peerId)).toBe(true);
    await vi.waitFor(() => {
      expect(a.connectedPeers().sort()).toEqual([b.peerId, c.peerId].sort());
      expect(b.connectedPeers()).toEqual([a.peerId]);
      expect(c.connectedPeers()).toEqual([a.peerId]);
    }, WAIT);
    // b and c never linked each other though both know the other (a 3-room fits in a sample).
    expect(b.links().map((l) => l.peerId)).toEqual([a.peerId]);
    expect(c.links().map((l) => l.peerId)).toEqual([a.peerId]);
    // Linking an open link again is a no-op that says yes.
    expect(await hood(b).link(a.peerId)).toBe(true);
    // MeshExpertNetwork exposes it.
    expect(new MeshExpertNetwork(a, a.peerId).neighbourhood).toBe(a.neighbourhood);
  }, 60_000);

  it('a full peer refuses at once, whichever side asks', async () => {
    const [lo, mid, hi] = await sortedIdentities(3);
    // mid holds one link at most and gets it from lo.
    const b = await mesh('full', mid!, 1);
    const a = await mesh('full', lo!);
    const c = await mesh('full', hi!);
    expect(await hood(a).link(b.peerId)).toBe(true);
    // link() resolves when a's end opens; b's end opens a moment later (under load, after c's refusal below).
    await vi.waitFor(() => expect(b.connectedPeers()).toEqual([a.peerId]), WAIT);
    // c (higher than b) asks b for an offer: refused.
    expect(await hood(c).link(b.peerId)).toBe(false);
    // b itself is at its cap: its own link() says no without asking.
    expect(await hood(b).link(c.peerId)).toBe(false);
    // a lower id offering to a full peer is refused too.
    const [lower] = await sortedIdentities(1);
    if (lower!.peerId < b.peerId) {
      const z = await mesh('full', lower!);
      expect(await hood(z).link(b.peerId)).toBe(false);
      expect(z.links()).toEqual([]);
    }
    expect(b.connectedPeers()).toEqual([a.peerId]);
    expect(c.links()).toEqual([]);
  }, 60_000);

  it('a request waiting for its answer holds a place: an unasked offer meanwhile is refused', async () => {
    const [silentId, lowerId, fullId] = await sortedIdentities(3);
    // The lowest id is a bare signaling client: it never answers b's request for an offer.
    const silent = new SignalingClient({
      url: server.url,
      room: 'pending',
      identity: silentId!,
      WebSocket: WS,
    });
    await silent.start();
    try {
      const b = await mesh('pending', fullId!, 1);
      const a = await mesh('pending', lowerId!);
      await vi.waitFor(() => expect(b.signaling.peers().map((p) => p.peerId)).toContain(silent.peerId), WAIT);
      // b (maxLinks 1) asks the silent peer for an offer; the request stays pending (deadline 120 s).
      const asked = hood(b).link(silent.peerId);
      // a (lower than b) offers unasked while b's one place is promised: refused at once.
      expect(await hood(a).link(b.peerId)).toBe(false);
      expect(b.links()).toEqual([]);
      expect(a.links()).toEqual([]);
      await b.stop();
      expect(await asked).toBe(false);
    } finally {
      await silent.stop();
    }
  }, 60_000);

  it('unlink closes both ends and nothing re-forms it; link() can form it again', async () => {
    const [lo, hi, third] = await sortedIdentities(3);
    const a = await mesh('unlink', lo!);
    const b = await mesh('unlink', hi!);
    const c = await mesh('unlink', third!);
    expect(await hood(b).link(a.peerId)).toBe(true);
    await vi.waitFor(() => expect(a.connectedPeers()).toEqual([b.peerId]), WAIT);
    const disconnected = new Promise<string>((resolve) => a.on('peer-disconnected', resolve));
    // The higher id unlinks: the lower one (the offerer, whose relink logic would re-offer) lets it go.
    hood(b).unlink(a.peerId);
    expect(await disconnected).toBe(b.peerId);
    expect(b.connectedPeers()).toEqual([]);
    expect(b.links()).toEqual([]);
    // Let the relink backoff (≥ 200 ms) and a's heartbeat pass while a forms another link.
    expect(await hood(a).link(c.peerId)).toBe(true);
    expect(await hood(c).link(b.peerId)).toBe(true);
    expect(a.links().map((l) => l.peerId)).toEqual([c.peerId]);
    expect(b.links().map((l) => l.peerId)).toEqual([c.peerId]);
    // Asked for, it forms again.
    expect(await hood(a).link(b.peerId)).toBe(true);
    await vi.waitFor(() => expect(b.connectedPeers().sort()).toEqual([a.peerId, c.peerId].sort()), WAIT);
  }, 60_000);

  it('candidates are the server sample; refreshCandidates draws another', async () => {
    const ids = await sortedIdentities(7);
    const members: PeerMesh[] = [];
    for (const id of ids) members.push(await mesh('sampled', id));
    const last = members.at(-1)!;
    const first = hood(last).candidates();
    // A sample of 4 out of the 6 others, and the room's size.
    expect(first.peerIds.length).toBe(4);
    expect(first.roomSize).toBe(7);
    const everyone = new Set(members.map((m) => m.peerId));
    const seen = new Set(first.peerIds);
    await vi.waitFor(async () => {
      for (const id of (await hood(last).refreshCandidates()).peerIds) seen.add(id);
      expect(seen.size).toBe(6);
    }, WAIT);
    for (const id of seen) expect(everyone.has(id) && id !== last.peerId).toBe(true);
    // Without the option a mesh has no neighbourhood.
    const plain = new PeerMesh({
      signalingUrl: server.url,
      room: 'x',
      identity: ids[0]!,
      wrtc,
      WebSocket: WS,
    });
    expect(plain.neighbourhood).toBeUndefined();
  }, 60_000);
});
