/**
 * Cross-origin use: a page of another site must not make its visitors'
 * browsers join rooms or submit txs (issue 15 item 8). The server's own app,
 * listed origins and clients without an Origin (Node peers) are served.
 */
import { once } from 'node:events';
import { request } from 'node:http';
import { openEmbeddedLedger } from '@peerbench/ledger';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createSignalingServer, type SignalingServerOptions } from '../src/index.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(opts: SignalingServerOptions = {}) {
  const ledger = await openEmbeddedLedger({ autoStart: false });
  cleanup.push(() => ledger.stop());
  const server = createSignalingServer({ host: '127.0.0.1', port: 0, ledger: ledger.hook, ...opts });
  await server.start();
  cleanup.push(() => server.stop());
  return server;
}

/** 'open', or the HTTP status the upgrade was refused with. */
async function upgrade(url: string, origin?: string): Promise<'open' | number> {
  const ws = new WebSocket(url, origin ? { origin } : {});
  try {
    return await new Promise<'open' | number>((resolve, reject) => {
      ws.once('open', () => resolve('open'));
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', reject);
    });
  } finally {
    ws.terminate();
  }
}

async function post(base: string, path: string, origin?: string): Promise<{ status: number; body: string }> {
  const req = request(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) },
  });
  req.end(JSON.stringify({ type: 'register' }));
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  let body = '';
  for await (const chunk of res) body += chunk;
  return { status: res.statusCode ?? 0, body };
}

describe('Origin policy', () => {
  it('refuses WebSocket upgrades from a foreign origin; serves its own origin and clients without one', async () => {
    const server = await serve();
    const own = new URL(server.httpUrl).origin;
    expect(await upgrade(server.url, 'https://evil.example')).toBe(403);
    expect(await upgrade(server.url, 'null')).toBe(403);
    expect(await upgrade(server.url, own)).toBe('open');
    expect(await upgrade(server.url)).toBe('open');
    expect(server.metrics().forbiddenOriginTotal).toBe(2);
  });

  it('refuses POST /ledger/tx from a foreign origin before the ledger sees it; reads stay open', async () => {
    const server = await serve();
    const own = new URL(server.httpUrl).origin;
    const foreign = await post(server.httpUrl, '/ledger/tx', 'https://evil.example');
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body)).toEqual({ error: 'forbidden-origin' });
    // Same-origin and origin-less posts reach the ledger (which refuses this tx as malformed).
    for (const origin of [own, undefined]) {
      const r = await post(server.httpUrl, '/ledger/tx', origin);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ ok: false, code: 'malformed' });
    }
    const read = await fetch(`${server.httpUrl}/ledger/head`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(read.status).toBe(200);
  });

  it('admits origins the operator lists, or any with "*"', async () => {
    const listed = await serve({ allowedOrigins: ['https://app.example.org'] });
    expect(await upgrade(listed.url, 'https://app.example.org')).toBe('open');
    expect(await upgrade(listed.url, 'https://other.example.org')).toBe(403);
    const open = await serve({ allowedOrigins: ['*'] });
    expect(await upgrade(open.url, 'https://other.example.org')).toBe('open');
  });
});
