/**
 * The signaling keepalive over real parts: the real signaling server on
 * 127.0.0.1, clients through a TCP proxy that can go silent without closing
 * anything (test/blackhole-proxy.ts: what a host cut off from the network
 * sees), real WebRTC (@roamhq/wrtc) for the mesh's re-offer after the
 * reconnect. Short keepalive timings so the tests run in a second or two;
 * the defaults are the protocol's SIGNALING_* constants.
 */
import { generateIdentity, type Identity } from '@peerbench/protocol';
import { createSignalingServer, type SignalingServer } from '@peerbench/signaling-server';
import wrtc from '@roamhq/wrtc';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { PeerMesh, type SignalingState } from '../src/index.js';
import { SignalingClient } from '../src/signaling-client.js';
import { SignalingKeepalive } from '../src/signaling-keepalive.js';
import { BlackholeProxy } from './blackhole-proxy.js';

const WS = WebSocket;
/** Fast enough for a test, slow enough for a loaded 2-core machine not to miss a pong. */
const FAST = { pingIntervalMs: 100, pongTimeoutMs: 1_000, connectTimeoutMs: 2_000 };
/** Bounds for vi.waitFor: far above FAST's deadlines, far below anything TCP would do by itself. */
const DETECT_WITHIN_MS = 6_000;

describe('signaling keepalive', () => {
  let server: SignalingServer;
  let proxy: BlackholeProxy;
  const stops: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    server = createSignalingServer({ host: '127.0.0.1', port: 0, shutdownGraceMs: 0 });
    await server.start();
    proxy = await BlackholeProxy.start(server.url);
  });

  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await proxy.stop();
    await server.stop();
  });

  function client(url: string, identity: Identity, keepalive = FAST) {
    const c = new SignalingClient({
      url,
      room: 'keepalive',
      identity,
      WebSocket: WS,
      keepalive,
      reconnectInitialDelayMs: 20,
      reconnectMaxDelayMs: 200,
    });
    const states: SignalingState[] = [];
    const errors: { code: string; message: string }[] = [];
    let welcomes = 0;
    c.on('state', (s) => states.push(s));
    c.on('error', (e) => errors.push(e));
    c.on('welcome', () => welcomes++);
    stops.push(() => c.stop());
    return { c, states, errors, welcomes: () => welcomes };
  }

  it('a client whose socket goes silent finds it dead and rejoins on a new one; the server keeps serving the others', async () => {
    const a = client(proxy.url, await generateIdentity());
    const b = client(server.url, await generateIdentity());
    const bJoins: string[] = [];
    const bLeaves: string[] = [];
    b.c.on('peer-joined', (p) => bJoins.push(p.peerId));
    b.c.on('peer-left', (id) => bLeaves.push(id));
    await b.c.start();
    await a.c.start();
    await vi.waitFor(() => expect(bJoins).toEqual([a.c.peerId]));

    proxy.blackholeOpen();
    // Nothing closes the socket: only the keepalive can tell.
    await vi.waitFor(() => expect(a.errors.map((e) => e.code)).toContain('keepalive-timeout'), {
      timeout: DETECT_WITHIN_MS,
    });
    expect(a.errors.find((e) => e.code === 'keepalive-timeout')?.message).toMatch(/no answer .* ping/);
    await vi.waitFor(() => expect(a.welcomes()).toBe(2), { timeout: DETECT_WITHIN_MS });
    expect(a.c.state).toBe('connected');
    expect(a.states).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
    expect(proxy.accepted).toBe(2);

    // The server replaced the dead connection: b saw a leave and come back, never lost its own.
    await vi.waitFor(() => expect(bJoins).toEqual([a.c.peerId, a.c.peerId]));
    expect(bLeaves).toEqual([a.c.peerId]);
    expect(b.states).toEqual(['connecting', 'connected']);
    expect(server.metrics().peers).toBe(2);
    const got: string[] = [];
    b.c.on('signal', ({ from }) => got.push(from));
    expect(a.c.sendSignal(b.c.peerId, { type: 'renegotiate', renegotiate: true })).toBe(true);
    await vi.waitFor(() => expect(got).toEqual([a.c.peerId]));
  });

  it('a socket that hears nothing after opening (not even the challenge) is given up and retried', async () => {
    proxy.blackholeNew = true;
    const a = client(proxy.url, await generateIdentity());
    const started = a.c.start();
    await vi.waitFor(() => expect(a.errors.map((e) => e.code)).toContain('keepalive-timeout'), {
      timeout: DETECT_WITHIN_MS,
    });
    expect(a.errors[0]?.message).toMatch(/no message from the server within 2000 ms of opening/);
    proxy.blackholeNew = false;
    await started;
    expect(a.c.state).toBe('connected');
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);
  });

  it('a live socket is pinged and answered, never dropped: pings count as messages but stay far under the rate limit', async () => {
    const a = client(server.url, await generateIdentity(), {
      ...FAST,
      pingIntervalMs: 20,
    });
    await a.c.start();
    const before = server.metrics().messagesReceivedTotal;
    // 25 more pings answered (one every 20 ms, each waits for its pong) and nothing else sent.
    await vi.waitFor(
      () => expect(server.metrics().messagesReceivedTotal - before).toBeGreaterThanOrEqual(25),
      {
        timeout: 10_000,
      },
    );
    expect(a.errors).toEqual([]);
    expect(a.states).toEqual(['connecting', 'connected']);
    expect(server.metrics().rejectedMessagesTotal['rate-limited']).toBe(0);
  });

  it('refuses timings that are not positive', () => {
    const hooks = { sendPing: () => true, onDead: () => {} };
    expect(() => new SignalingKeepalive(hooks, { pingIntervalMs: 0 })).toThrow(/pingIntervalMs/);
    expect(() => new SignalingKeepalive(hooks, { pongTimeoutMs: Number.NaN })).toThrow(/pongTimeoutMs/);
  });

  // Offers sent while the socket was dead are lost. The offerer (lower id) must start its
  // half-made link over on the rejoin, not wait out the 15 s connect deadline; the answerer
  // side is re-offered by the other peer, which saw it leave and rejoin.
  for (const role of ['offerer', 'answerer'] as const) {
    it(`the mesh re-makes a link whose signals were lost with the dead socket at once after the rejoin (cut peer is the ${role})`, async () => {
      const [low, high] = [await generateIdentity(), await generateIdentity()].sort((x, y) =>
        x.peerId < y.peerId ? -1 : 1,
      ) as [Identity, Identity];
      const [cut, other] = role === 'offerer' ? [low, high] : [high, low];
      const mesh = (url: string, identity: Identity) => {
        const m = new PeerMesh({
          signalingUrl: url,
          room: `relink-${role}`,
          identity,
          wrtc,
          WebSocket: WS,
          signalingKeepalive: FAST,
          reconnectInitialDelayMs: 20,
          reconnectMaxDelayMs: 200,
        });
        stops.push(() => m.stop());
        return m;
      };
      const b = mesh(server.url, other);
      await b.start();
      // The cut peer's socket goes silent right after its welcome: its first offer (or the
      // answer to the other's offer) never crosses.
      proxy.blackholeAfter('"type":"welcome"');
      const a = mesh(proxy.url, cut);
      const states: string[] = [];
      a.on('connection', (s) => states.push(s));
      await a.start();
      await vi.waitFor(() => expect(states).toContain('reconnecting'), { timeout: DETECT_WITHIN_MS });
      // Well under LINK_CONNECT_DEADLINE_MS (15 s), after which a stalled link would be retried anyway.
      await vi.waitFor(
        () => {
          expect(a.connectedPeers()).toEqual([b.peerId]);
          expect(b.connectedPeers()).toEqual([a.peerId]);
        },
        { timeout: 8_000, interval: 50 },
      );
      expect(await a.ping(b.peerId, 5_000)).toBeGreaterThanOrEqual(0);
      expect(proxy.accepted).toBe(2);
    }, 20_000);
  }
});
