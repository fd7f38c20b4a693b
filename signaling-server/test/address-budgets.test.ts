/**
 * The per-address budgets wired into a real server: each one with a small
 * explicit limit, spent by one address over several connections (and
 * reconnects), answered with `rate-limited`, while another loopback address
 * (127.0.0.2 is another client to the server) keeps being served.
 */
import { openEmbeddedLedger } from '@peerbench/ledger';
import { generateIdentity } from '@peerbench/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServerOptions } from '../src/index.js';
import { httpFrom, isSignalFrom, TestClient } from './helpers.js';

const OTHER = '127.0.0.2';
/** No unit comes back during a test. */
const NO_REFILL_PER_S = 0.001;

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(opts: SignalingServerOptions, withLedger = false) {
  const ledger = withLedger ? await openEmbeddedLedger({ autoStart: false }) : undefined;
  if (ledger) cleanup.push(() => ledger.stop());
  const server = createSignalingServer({
    host: '127.0.0.1',
    port: 0,
    shutdownGraceMs: 0,
    ...(ledger ? { ledger: ledger.hook } : {}),
    ...opts,
  });
  await server.start();
  cleanup.push(() => server.stop());
  return server;
}

function track<T extends { ws: { terminate(): void } }>(client: T): T {
  cleanup.push(() => client.ws.terminate());
  return client;
}

describe('per-address budgets', () => {
  it('new connections: spent at the upgrade, not refilled by closing; other addresses still connect', async () => {
    const server = await serve({ addressBudgets: { connection: { ratePerS: NO_REFILL_PER_S, burst: 3 } } });
    for (let i = 0; i < 3; i++) {
      const c = track(await TestClient.connect(server.url));
      expect(c.nonce).not.toBe('');
      c.close();
      await c.closed;
    }
    // All three are closed: a slot is free, but the budget is spent.
    const refused = track(await TestClient.connect(server.url));
    expect(refused.nonce).toBe('');
    expect(await refused.nextError()).toBe('rate-limited');
    expect((await refused.closed).code).toBe(1013);
    const other = track(await TestClient.connect(server.url, { localAddress: OTHER }));
    expect(other.nonce).not.toBe('');
    expect(server.metrics().rejectedMessagesTotal['rate-limited']).toBe(1);
  });

  it('messages: shared by all connections of an address and by reconnects; others keep relaying', async () => {
    // Per connection the defaults (100/s, burst 300) would let all of this through.
    const server = await serve({
      addressBudgets: { message: { ratePerS: NO_REFILL_PER_S, burst: 10 } },
      maxAbuseStrikes: 100,
    });
    const { client: a } = await TestClient.joined(server.url, 'r'); // 1 message (the join)
    const { client: b } = await TestClient.joined(server.url, 'r'); // 2
    track(a);
    track(b);
    for (let i = 0; i < 4; i++) a.signal(b.peerId, `a${i}`); // 6
    for (let i = 0; i < 4; i++) b.signal(a.peerId, `b${i}`); // 10
    await b.next(isSignalFrom(a.peerId, 'a3'));
    await a.next(isSignalFrom(b.peerId, 'b3'));
    a.signal(b.peerId, 'over');
    expect(await a.nextError()).toBe('rate-limited');
    b.signal(a.peerId, 'over');
    expect(await b.nextError()).toBe('rate-limited');
    // A fresh connection of the same address starts with nothing either: its join is refused.
    const again = track(await TestClient.connect(server.url));
    again.send({ type: 'join', room: 'r', peerId: a.peerId, signature: '00' });
    expect(await again.nextError()).toBe('rate-limited');
    // Another address joins the same room and relays both ways.
    const { client: c } = await TestClient.joined(server.url, 'r', undefined, OTHER);
    track(c);
    c.signal(a.peerId, 'from-c');
    await a.next(isSignalFrom(c.peerId, 'from-c'));
    expect(b.received.some(isSignalFrom(a.peerId, 'over'))).toBe(false);
  });

  it('ledger txs: WebSocket and POST /ledger/tx spend one budget; other addresses still submit', async () => {
    const server = await serve({ addressBudgets: { tx: { ratePerS: NO_REFILL_PER_S, burst: 3 } } }, true);
    const { client: a } = await TestClient.joined(server.url, 'r');
    track(a);
    const wsTx = async (requestId: string) => {
      a.send({ type: 'ledger-tx', requestId, tx: { type: 'register' } });
      return a.next((m) => 'requestId' in m && m.requestId === requestId);
    };
    // Two reach the ledger over WebSocket (refused there as malformed), one over HTTP.
    expect(await wsTx('t1')).toMatchObject({ type: 'ledger-tx-result', ok: false, code: 'malformed' });
    expect(await wsTx('t2')).toMatchObject({ type: 'ledger-tx-result', ok: false, code: 'malformed' });
    const post = (localAddress?: string) =>
      httpFrom(`${server.httpUrl}/ledger/tx`, {
        method: 'POST',
        body: '{"type":"register"}',
        ...(localAddress ? { localAddress } : {}),
      });
    const third = await post();
    expect(third.status).toBe(400);
    expect(JSON.parse(third.body)).toMatchObject({ code: 'malformed' });
    // The budget is spent on both paths.
    const limited = await post();
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.body)).toMatchObject({ ok: false, code: 'rate-limited' });
    expect(await wsTx('t4')).toMatchObject({ type: 'error', code: 'rate-limited', requestId: 't4' });
    // Another address: its own budget.
    expect((await post(OTHER)).status).toBe(400);
    // The refused WebSocket client is still connected and served.
    expect(a.isClosed).toBe(false);
  });

  it('joins and leaves: one budget per address, whichever connection spends it; others still join', async () => {
    const server = await serve({ addressBudgets: { join: { ratePerS: NO_REFILL_PER_S, burst: 3 } } });
    const { client: watcher } = await TestClient.joined(server.url, 'r', undefined, OTHER);
    track(watcher);
    const id = await generateIdentity();
    const a = track(await TestClient.connect(server.url));
    await a.join('r', id); // 1
    await watcher.next((m) => m.type === 'peer-joined');
    a.send({ type: 'leave' }); // 2
    await watcher.next((m) => m.type === 'peer-left');
    await a.join('r', id); // 3
    await watcher.next((m) => m.type === 'peer-joined');
    a.send({ type: 'leave' });
    expect(await a.nextError()).toBe('rate-limited');
    expect(server.metrics().peers).toBe(2); // the refused leave left it in the room
    // A new connection of the same address: its (validly signed) join is refused.
    const b = track(await TestClient.connect(server.url));
    await expect(b.join('r', await generateIdentity())).rejects.toThrow(/rate-limited/);
    // Another address joins, and the watcher hears of it but never of the refused ones.
    const { client: c } = await TestClient.joined(server.url, 'r', undefined, OTHER);
    track(c);
    const joined = await watcher.next((m) => m.type === 'peer-joined');
    expect(joined.type === 'peer-joined' && joined.peer.peerId).toBe(c.peerId);
    expect(watcher.inbox.filter((m) => m.type === 'peer-left')).toEqual([]);
    expect(a.isClosed || b.isClosed).toBe(false);
  });
});
