/**
 * SignalingClient against a scripted WebSocket server on 127.0.0.1: the real
 * server never sends garbage, so this one does, to prove the client drops bad
 * messages with an error event and keeps working. Join signatures are checked
 * with the real Ed25519 verifier.
 */
import type { AddressInfo } from 'node:net';
import {
  fromHex,
  generateIdentity,
  joinChallengeBytes,
  parseClientMessage,
  publicKeyFromPeerId,
  verifySignature,
} from '@peerbench/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { SignalingClient } from '../src/signaling-client.js';
import { backoffDelayMs } from '../src/websocket.js';

const WS = WebSocket;
const NONCE = '0123456789abcdef0123456789abcdef';
const OTHER = 'c'.repeat(64);

describe('SignalingClient', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function scriptedServer(): Promise<{
    url: string;
    wss: WebSocketServer;
    joins: unknown[];
    sockets: WebSocket[];
  }> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const joins: unknown[] = [];
    const sockets: WebSocket[] = [];
    wss.on('connection', (ws) => {
      sockets.push(ws);
      ws.send('this is not json');
      ws.send(JSON.stringify({ type: 'welcome', peerId: 'nope' }));
      ws.send(JSON.stringify({ type: 'challenge', nonce: NONCE }));
      ws.on('message', async (raw) => {
        const msg = parseClientMessage(raw.toString());
        if (msg.type === 'join') {
          joins.push(msg);
          const ok = await verifySignature(
            publicKeyFromPeerId(msg.peerId),
            joinChallengeBytes(msg.room, NONCE),
            fromHex(msg.signature),
          );
          if (!ok) {
            ws.close(1008, 'bad signature');
            return;
          }
          ws.send(
            JSON.stringify({
              type: 'welcome',
              peerId: msg.peerId,
              room: msg.room,
              peers: [{ peerId: OTHER, joinedAtMs: 1 }],
              iceServers: [],
              heartbeatIntervalMs: 15000,
            }),
          );
        } else if (msg.type === 'ledger-tx') {
          ws.send(
            JSON.stringify({
              type: 'ledger-tx-result',
              requestId: msg.requestId,
              ok: false,
              code: 'replayed-nonce',
            }),
          );
        } else if (msg.type === 'ledger-subscribe') {
          ws.send(JSON.stringify({ type: 'ledger-block', block: { height: msg.fromHeight } }));
        }
      });
    });
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    cleanup.push(() => new Promise<void>((r) => wss.close(() => r())));
    for (const s of sockets) cleanup.push(() => s.terminate());
    return { url, wss, joins, sockets };
  }

  it('joins with a valid signature, drops bad server messages as error events, carries ledger traffic', async () => {
    const server = await scriptedServer();
    const identity = await generateIdentity();
    const client = new SignalingClient({ url: server.url, room: 'r1', identity, WebSocket: WS });
    cleanup.push(() => client.stop());
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    await client.start();
    expect(client.state).toBe('connected');
    expect(server.joins).toHaveLength(1);
    expect(errors).toEqual(['invalid-message', 'invalid-message']);
    expect(client.peers().map((p) => p.peerId)).toEqual([OTHER]);
    expect(await client.sendLedgerTx({ any: 'thing' })).toEqual({ ok: false, code: 'replayed-nonce' });
    const blocks: unknown[] = [];
    client.on('ledger-block', (b) => blocks.push(b));
    client.subscribeLedger(5);
    await vi.waitFor(() => expect(blocks.length === 1).toBe(true), { timeout: 5000, interval: 10 });
    expect(blocks[0]).toEqual({ height: 5 });
  });

  it('reconnects after the socket drops, re-joins, and resumes the ledger subscription after the last block', async () => {
    const server = await scriptedServer();
    const client = new SignalingClient({
      url: server.url,
      room: 'r2',
      identity: await generateIdentity(),
      WebSocket: WS,
      reconnectInitialDelayMs: 20,
      reconnectMaxDelayMs: 100,
    });
    cleanup.push(() => client.stop());
    const states: string[] = [];
    client.on('state', (s) => states.push(s));
    const heights: number[] = [];
    client.on('ledger-block', (b) => heights.push((b as { height: number }).height));
    await client.start();
    client.subscribeLedger(7);
    await vi.waitFor(() => expect(heights.length === 1).toBe(true), { timeout: 5000, interval: 10 });
    server.sockets[0]!.terminate();
    await vi.waitFor(() => expect(server.joins.length === 2 && client.state === 'connected').toBe(true), {
      timeout: 5000,
      interval: 10,
    });
    await vi.waitFor(() => expect(heights.length === 2).toBe(true), { timeout: 5000, interval: 10 });
    // Resumed from the block after the last one received (7 → 8).
    expect(heights).toEqual([7, 8]);
    expect(states).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffDelayMs(0, 100, 10_000, () => 0)).toBe(50);
    expect(backoffDelayMs(0, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelayMs(3, 100, 10_000, () => 1)).toBe(800);
    expect(backoffDelayMs(50, 100, 10_000, () => 0.5)).toBe(7500);
    for (let a = 0; a < 40; a++) {
      const d = backoffDelayMs(a, 250, 10_000, Math.random);
      expect(d).toBeGreaterThanOrEqual(Math.min(10_000, 250 * 2 ** a) / 2);
      expect(d).toBeLessThanOrEqual(10_000);
    }
  });
});

describe('SignalingClient against the real server', () => {
  it('a client replaced by a newer connection of the same identity stops instead of evicting it back', async () => {
    const { createSignalingServer } = await import('@peerbench/signaling-server');
    const server = createSignalingServer({ host: '127.0.0.1', port: 0 });
    await server.start();
    const identity = await generateIdentity();
    // Reconnect delays of 1 ms: a reconnect loop, if there were one, would run many times below.
    const fast = { reconnectInitialDelayMs: 1, reconnectMaxDelayMs: 1 };
    const first = new SignalingClient({ url: server.url, room: 'twins', identity, WebSocket: WS, ...fast });
    const second = new SignalingClient({ url: server.url, room: 'twins', identity, WebSocket: WS, ...fast });
    try {
      const errors: string[] = [];
      first.on('error', (e) => errors.push(e.code));
      await first.start();
      await second.start();
      await vi.waitFor(() => expect(first.state === 'closed').toBe(true), { timeout: 5000, interval: 10 });
      expect(errors).toContain('replaced');
      const laterStates: string[] = [];
      first.on('state', (st) => laterStates.push(st));
      // Twenty round trips through the server on the newer connection: time for
      // a 1 ms reconnect loop to have evicted it if the older one had one.
      for (let i = 0; i < 20; i++) {
        const r = await second.sendLedgerTx({ kind: 'noop' });
        expect(r.code).toBe('ledger-unavailable');
      }
      expect(laterStates).toEqual([]);
      expect(first.state).toBe('closed');
      expect(second.state).toBe('connected');
    } finally {
      await first.stop();
      await second.stop();
      await server.stop();
    }
  }, 20_000);
});
