/**
 * Failing over between signaling servers: the URL list and its rotation, and
 * a SignalingClient given two real (unclustered) servers that moves to the
 * second when the first stops, and back to the first when the second stops.
 * The clustered case (rooms and the ledger shared over NATS, a RemoteChain
 * following across the switch) is clustered-client-failover.test.ts.
 */
import { generateIdentity } from '@peerbench/protocol';
import { createSignalingServer, type SignalingServer } from '@peerbench/signaling-server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { parseServerUrls, ServerUrlError, ServerUrlRotation } from '../src/server-urls.js';
import { SignalingClient, type SignalingState } from '../src/signaling-client.js';

const WS = WebSocket;

describe('parseServerUrls', () => {
  it('takes one URL, a list, or a comma-separated list, in order, without duplicates', () => {
    expect(parseServerUrls('ws://a:1')).toEqual(['ws://a:1']);
    expect(parseServerUrls(' ws://a:1 , wss://b/x,,ws://a:1')).toEqual(['ws://a:1', 'wss://b/x']);
    expect(parseServerUrls(['ws://a:1', 'ws://b:2,ws://c:3'])).toEqual(['ws://a:1', 'ws://b:2', 'ws://c:3']);
  });

  it('writes http(s) as ws(s)', () => {
    expect(parseServerUrls('http://a:1/,https://b')).toEqual(['ws://a:1/', 'wss://b']);
  });

  it('refuses an empty list, a non-URL and other schemes with a coded error', () => {
    for (const bad of ['', ' , ', [], 'a:1', 'ftp://a', ['ws://a', 'not a url']]) {
      let error: unknown;
      try {
        parseServerUrls(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ServerUrlError);
      expect((error as ServerUrlError).code).toBe('bad-server-url');
    }
  });
});

describe('ServerUrlRotation', () => {
  it('starts on the first URL and goes round robin', () => {
    const r = new ServerUrlRotation(['ws://a', 'ws://b', 'ws://c']);
    expect(r.current).toBe('ws://a');
    expect([r.advance(), r.advance(), r.advance(), r.advance()]).toEqual([
      'ws://b',
      'ws://c',
      'ws://a',
      'ws://b',
    ]);
    expect(r.current).toBe('ws://b');
  });

  it('stays on a single URL (one server, or a balancer)', () => {
    const r = new ServerUrlRotation('ws://lb');
    expect([r.advance(), r.advance()]).toEqual(['ws://lb', 'ws://lb']);
  });
});

describe('SignalingClient with two servers', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function server(): Promise<SignalingServer> {
    const s = createSignalingServer({ host: '127.0.0.1', port: 0, shutdownGraceMs: 0 });
    await s.start();
    cleanup.push(() => s.stop());
    return s;
  }

  it('rejoins on the next server when its server stops, and comes back round', async () => {
    const a = await server();
    const b = await server();
    const client = new SignalingClient({
      url: [a.url, b.url],
      room: 'failover',
      identity: await generateIdentity(),
      WebSocket: WS,
      reconnectInitialDelayMs: 20,
      reconnectMaxDelayMs: 200,
    });
    cleanup.push(() => client.stop());
    const states: SignalingState[] = [];
    client.on('state', (s) => states.push(s));
    const welcomes: string[] = [];
    client.on('welcome', () => welcomes.push(client.serverUrl));
    await client.start();
    expect(client.serverUrl).toBe(a.url);
    expect(client.serverUrls).toEqual([a.url, b.url]);

    await a.stop();
    await vi.waitFor(
      () => {
        expect(client.state).toBe('connected');
        expect(client.serverUrl).toBe(b.url);
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(welcomes).toEqual([a.url, b.url]);
    expect(states).toContain('reconnecting');

    // B goes too and A is back on its port: the client goes round to it.
    const port = Number(new URL(a.url).port);
    const a2 = createSignalingServer({ host: '127.0.0.1', port, shutdownGraceMs: 0 });
    await a2.start();
    cleanup.push(() => a2.stop());
    await b.stop();
    await vi.waitFor(
      () => {
        expect(welcomes).toEqual([a.url, b.url, a.url]);
        expect(client.state).toBe('connected');
      },
      { timeout: 10_000, interval: 20 },
    );
  });
});
