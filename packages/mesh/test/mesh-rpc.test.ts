/**
 * RPC compliance suite: the same tests over an in-memory link pair and over a
 * real WebRTC data channel pair (@roamhq/wrtc), so the fast fake and the real
 * transport are held to one behaviour.
 */

import { encodeRpcMessage, MAX_FRAME_BYTES, RpcError, type WireTensor } from '@peerbench/protocol';
import wrtc from '@roamhq/wrtc';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryLinkPair, type Link } from '../src/link.js';
import { type RpcHandler, RpcSession } from '../src/rpc-session.js';
import { SEND_HIGH_WATER_BYTES } from '../src/send-queue.js';
import { createWebRtcLinkPair } from '../src/webrtc-pair.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

interface Pair {
  a: Link;
  b: Link;
  close(): void;
}

const transports: [string, () => Promise<Pair>][] = [
  [
    'memory',
    async () => {
      const p = createMemoryLinkPair(A, B);
      return { ...p, close: () => p.a.close() };
    },
  ],
  ['webrtc', () => createWebRtcLinkPair(A, B, { wrtc })],
];

function tensor(shape: number[], seed = 1): WireTensor {
  const n = shape.reduce((x, y) => x * y, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37 + seed) * 10 ** ((i % 7) - 3);
  return { shape, data };
}

function bytesOf(t: WireTensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

async function rejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RpcError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe.each(transports)('RPC over %s links', (_name, makePair) => {
  let pair: Pair | undefined;
  let sessions: RpcSession[] = [];
  afterEach(() => {
    for (const s of sessions) s.close('cancelled', 'test over');
    sessions = [];
    pair?.close();
    pair = undefined;
  });

  async function setup(handlersA: Record<string, RpcHandler>, handlersB: Record<string, RpcHandler>) {
    pair = await makePair();
    const a = new RpcSession(pair.a, { handlers: new Map(Object.entries(handlersA)) });
    const b = new RpcSession(pair.b, { handlers: new Map(Object.entries(handlersB)) });
    sessions.push(a, b);
    return { a, b, pair };
  }

  const echo: RpcHandler = async (_ctx, t) => t;

  it('returns fp32 tensors bit-exactly both ways, small and multi-frame', async () => {
    const double: RpcHandler = async (_ctx, ts) =>
      ts.map((t) => ({ shape: t.shape, data: t.data.map((x) => x * 2) }));
    const { a, b } = await setup({ echo }, { echo, double });
    const big = tensor([512, 1024], 3); // 2 MiB: 129 frames
    const small = tensor([3, 4], 5);
    const [r1, r2, r3] = await Promise.all([
      a.request('echo', [big, small]),
      b.request('echo', [small]),
      a.request('double', [small]),
    ]);
    expect(r1.map((t) => t.shape)).toEqual([big.shape, small.shape]);
    expect(Buffer.compare(bytesOf(r1[0]!), bytesOf(big))).toBe(0);
    expect(r1[1]!.data).toEqual(small.data);
    expect(r2[0]!.data).toEqual(small.data);
    expect(r3[0]!.data).toEqual(small.data.map((x) => x * 2));
  });

  it('carries fp16 within 1e-3 relative error and passes meta and the caller id', async () => {
    let seen: { from: string; meta: Record<string, string | number> } | undefined;
    const { a } = await setup(
      {},
      {
        echo: async (ctx, t) => {
          seen = { from: ctx.from, meta: ctx.meta };
          return t;
        },
      },
    );
    const t = tensor([64, 33], 7);
    const [r] = await a.request('echo', [t], { wireDtype: 'fp16', meta: { step: 12, rid: 'x1' } });
    expect(seen).toEqual({ from: A, meta: { step: 12, rid: 'x1' } });
    for (let i = 0; i < t.data.length; i++) {
      const x = t.data[i]!;
      if (Math.abs(x) >= 2 ** -14) expect(Math.abs(r!.data[i]! - x) / Math.abs(x)).toBeLessThanOrEqual(1e-3);
    }
  });

  it('answers a throwing handler with rejected and keeps the link', async () => {
    const { a } = await setup(
      {},
      {
        boom: async () => {
          throw new Error('model exploded');
        },
        syncBoom: (() => {
          throw new Error('sync');
        }) as RpcHandler,
        nan: async () => [{ shape: [1], data: new Float32Array([Number.NaN]) }],
        echo,
      },
    );
    const e1 = await rejection(a.request('boom', [tensor([2])]));
    expect(e1.code).toBe('rejected');
    expect(e1.message).toContain('model exploded');
    expect((await rejection(a.request('syncBoom', []))).code).toBe('rejected');
    const e2 = await rejection(a.request('nan', []));
    expect(e2.code).toBe('rejected');
    expect(e2.message).toContain('nan-or-inf');
    expect((await rejection(a.request('nope', []))).code).toBe('rejected');
    const [r] = await a.request('echo', [tensor([2])]);
    expect(r!.data).toEqual(tensor([2]).data);
  });

  it('rejects invalid tensors before sending', async () => {
    const { a, b } = await setup({}, { echo });
    const e = await rejection(a.request('echo', [{ shape: [2], data: new Float32Array([1, Infinity]) }]));
    expect(e.code).toBe('invalid');
    expect((await rejection(a.request('echo', [{ shape: [3], data: new Float32Array(2) }]))).code).toBe(
      'invalid',
    );
    expect(b.stats.requestsHandled).toBe(0);
  });

  it('times out, and the timeout cancels the remote handler over the wire', async () => {
    let aborted = false;
    const { a } = await setup(
      {},
      {
        slow: (ctx) =>
          new Promise((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => {
              aborted = true;
              reject(new Error('aborted'));
            });
          }),
      },
    );
    const e = await rejection(a.request('slow', [], { timeoutMs: 150 }));
    expect(e.code).toBe('timeout');
    await vi.waitFor(() => expect(aborted).toBe(true), { timeout: 5000, interval: 5 });
  });

  it('cancels with an AbortSignal, the handler sees ctx.signal abort', async () => {
    let started = false;
    let aborted = false;
    const { a } = await setup(
      {},
      {
        slow: (ctx) =>
          new Promise(() => {
            started = true;
            ctx.signal.addEventListener('abort', () => {
              aborted = true;
            });
          }),
      },
    );
    const ac = new AbortController();
    const p = a.request('slow', [tensor([4])], { signal: ac.signal, timeoutMs: 5000 });
    await vi.waitFor(() => expect(started).toBe(true), { timeout: 5000, interval: 5 });
    ac.abort();
    expect((await rejection(p)).code).toBe('cancelled');
    await vi.waitFor(() => expect(aborted).toBe(true), { timeout: 5000, interval: 5 });
    const pre = new AbortController();
    pre.abort();
    expect((await rejection(a.request('slow', [], { signal: pre.signal }))).code).toBe('cancelled');
  });

  it('fails pending requests with peer-gone when the link closes', async () => {
    let started = false;
    const { a, b } = await setup(
      {},
      {
        hang: () => {
          started = true;
          return new Promise(() => {});
        },
      },
    );
    const p = a.request('hang', [], { timeoutMs: 10_000 });
    await vi.waitFor(() => expect(started).toBe(true), { timeout: 5000, interval: 5 });
    b.close('peer-gone', 'remote crashed');
    expect((await rejection(p)).code).toBe('peer-gone');
    expect((await rejection(a.request('hang', []))).code).toBe('peer-gone');
  });

  it('pings: the remote session answers by itself, and the time is the round trip', async () => {
    let handled = 0;
    const { a, b } = await setup(
      {},
      {
        echo: async (_ctx, t) => {
          handled++;
          return t;
        },
      },
    );
    const t0 = performance.now();
    const rtt = await a.ping();
    const elapsed = performance.now() - t0;
    // A duration measured inside this call: positive and no longer than the call itself
    // (a timestamp, or a time measured from anything earlier, fails this).
    expect(rtt).toBeGreaterThan(0);
    expect(rtt).toBeLessThanOrEqual(elapsed);
    expect(await b.ping()).toBeGreaterThan(0);
    expect(handled).toBe(0);
    expect(b.stats.requestsHandled).toBe(0);
    // A session whose remote no longer answers: the ping times out instead of hanging.
    b.close('peer-gone', 'remote gone');
    await expect(a.ping(100)).rejects.toMatchObject({ code: expect.stringMatching(/^(peer-gone|timeout)$/) });
  });

  it('keeps bufferedAmount bounded while sending a big tensor', async () => {
    const { a, b, pair } = await setup({}, { echo });
    let maxBuffered = 0;
    const send = pair.a.send.bind(pair.a);
    pair.a.send = (f: Uint8Array) => {
      maxBuffered = Math.max(maxBuffered, pair.a.bufferedAmount);
      send(f);
    };
    const big = tensor([4 * 1024 * 1024]); // 16 MiB
    const [r] = await a.request('echo', [big], { timeoutMs: 30_000 });
    expect(r!.data.length).toBe(big.data.length);
    expect(maxBuffered).toBeLessThan(SEND_HIGH_WATER_BYTES + MAX_FRAME_BYTES);
    expect(b.stats.invalidFrames).toBe(0);
  }, 40_000);

  it('drops garbage frames and answers bad requests with invalid, and a flood closes only that link', async () => {
    const { a, b, pair } = await setup({}, { echo });
    // A request whose payload holds NaN, built by hand (the encoder would refuse it).
    const good = encodeRpcMessage({
      kind: 'request',
      id: 4242,
      method: 'echo',
      tensors: [{ shape: [2], data: new Float32Array([1, 2]) }],
      meta: {},
      dtype: 'fp32',
      replyDtype: 'fp32',
    });
    const bad = good.slice();
    new DataView(bad.buffer).setFloat32(bad.length - 4, Number.NaN, true);
    pair.a.send(new Uint8Array([1, 2, 3]));
    // Through the session's own queue so it gets a proper message id.
    (a as unknown as { queue: { enqueue(bytes: Uint8Array): void } }).queue.enqueue(bad);
    await vi.waitFor(() => expect(b.stats.invalidFrames >= 2).toBe(true), { timeout: 5000, interval: 5 });
    expect(b.stats.lastInvalidCode).toBe('nan-or-inf');
    expect(b.isOpen).toBe(true);
    const [r] = await a.request('echo', [tensor([2])]);
    expect(r!.data).toEqual(tensor([2]).data);
    // Flood: the receiver closes the link; the sender's pending request fails, nothing throws.
    const hang = a.request('echo', [tensor([1])], { timeoutMs: 10_000 }).catch((e: RpcError) => e.code);
    for (let i = 0; i < 100; i++) pair.a.send(new Uint8Array([9, 9, 9, 9]));
    await vi.waitFor(() => expect(!b.isOpen && !a.isOpen).toBe(true), { timeout: 5000, interval: 5 });
    const code = await hang;
    expect(['peer-gone', undefined]).toContain(typeof code === 'string' ? code : undefined);
  });
});
