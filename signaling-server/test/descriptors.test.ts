/**
 * Descriptor exhaustion: raw TCP sockets that send part of a WebSocket
 * upgrade request and nothing more. One address gets at most
 * maxPendingSocketsPerIp of them held, each for at most upgradeTimeoutMs; the
 * server holds at most maxOpenSockets in all; everyone else is served
 * meanwhile (127.0.0.2 is another client address to the server).
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSignalingServer, type SignalingServerOptions } from '../src/index.js';
import { httpFrom, isSignalFrom, TestClient } from './helpers.js';

const OTHER = '127.0.0.2';
const PARTIAL_UPGRADE =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n';
/** Sockets opened at once; the flood goes out in batches so the listen backlog never overflows. */
const BATCH = 100;

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(opts: SignalingServerOptions) {
  const server = createSignalingServer({ host: '127.0.0.1', port: 0, shutdownGraceMs: 0, ...opts });
  await server.start();
  cleanup.push(() => server.stop());
  return server;
}

interface Flood {
  sockets: Socket[];
  /** Sockets the server has closed (or refused) so far. */
  closed(): number;
}

/** Opens `count` half-open upgrades in batches; resolves once every one connected or was refused. */
async function halfOpenFlood(port: number, count: number, onEach?: () => void): Promise<Flood> {
  const sockets: Socket[] = [];
  let closed = 0;
  cleanup.push(() => {
    for (const s of sockets) s.destroy();
  });
  for (let start = 0; start < count; start += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - start) }, () => {
      const s = connect({ host: '127.0.0.1', port });
      sockets.push(s);
      s.on('error', () => {});
      s.on('close', () => closed++);
      return new Promise<void>((settled) => {
        s.once('connect', () =>
          s.write(PARTIAL_UPGRADE, () => {
            onEach?.();
            settled();
          }),
        );
        s.once('close', () => {
          onEach?.();
          settled();
        });
      });
    });
    await Promise.all(batch);
  }
  return { sockets, closed: () => closed };
}

describe('descriptor exhaustion', () => {
  it('2,000 half-open upgrades from one address: at most maxPendingSocketsPerIp held, closed after the timeout, others served', async () => {
    const maxPendingSocketsPerIp = 16;
    const server = await serve({ maxPendingSocketsPerIp, upgradeTimeoutMs: 3_000 });
    let maxPendingSeen = 0;
    let flooding = true;
    const flood = await halfOpenFlood(server.port, 2_000, () => {
      // Only while the flood is the only traffic: later, other addresses have pending sockets too.
      if (flooding) maxPendingSeen = Math.max(maxPendingSeen, server.metrics().pendingSockets);
    });
    flooding = false;
    expect(maxPendingSeen).toBeLessThanOrEqual(maxPendingSocketsPerIp);
    // Everyone else is served meanwhile: /health and a WebSocket join and relay.
    const health = await httpFrom(`${server.httpUrl}/health`, { localAddress: OTHER });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ ok: true });
    const { client: a } = await TestClient.joined(server.url, 'calm', undefined, OTHER);
    const { client: b } = await TestClient.joined(server.url, 'calm', undefined, OTHER);
    cleanup.push(() => a.ws.terminate());
    cleanup.push(() => b.ws.terminate());
    a.signal(b.peerId, 'during-flood');
    await b.next(isSignalFrom(a.peerId, 'during-flood'));
    // Every half-open socket is closed by the server: refused at once, or after the timeout.
    await vi.waitFor(() => expect(flood.closed()).toBe(2_000), { timeout: 20_000, interval: 50 });
    const m = server.metrics();
    expect(m.socketsRefusedTotal.address + m.upgradeTimeoutsTotal).toBe(2_000);
    expect(m.upgradeTimeoutsTotal).toBeGreaterThanOrEqual(maxPendingSocketsPerIp);
    expect(m.socketsRefusedTotal.address).toBeGreaterThan(1_000);
    expect(m.pendingSockets).toBe(0);
    // The well-behaved WebSocket clients were not touched.
    expect(a.isClosed || b.isClosed).toBe(false);
    await vi.waitFor(() => expect(server.metrics().openSockets).toBe(2));
  }, 60_000);

  it('holds at most maxOpenSockets in all, and serves again once the half-open ones time out', async () => {
    const server = await serve({
      maxOpenSockets: 40,
      maxPendingSocketsPerIp: 1_000,
      upgradeTimeoutMs: 1_000,
    });
    let maxOpenSeen = 0;
    const flood = await halfOpenFlood(server.port, 100, () => {
      maxOpenSeen = Math.max(maxOpenSeen, server.metrics().openSockets);
    });
    expect(maxOpenSeen).toBeLessThanOrEqual(40);
    await vi.waitFor(() => expect(flood.closed()).toBe(100), { timeout: 20_000, interval: 50 });
    const m = server.metrics();
    expect(m.socketsRefusedTotal.server).toBeGreaterThan(0);
    expect(m.socketsRefusedTotal.server + m.upgradeTimeoutsTotal).toBe(100);
    const health = await httpFrom(`${server.httpUrl}/health`);
    expect(health.status).toBe(200);
    const metricsText = (await httpFrom(`${server.httpUrl}/metrics`)).body;
    expect(metricsText).toMatch(/peerbench_signaling_sockets_refused_total\{limit="server"\} \d+/);
    expect(metricsText).toMatch(/peerbench_signaling_upgrade_timeouts_total \d+/);
  }, 60_000);
});
