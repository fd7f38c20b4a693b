/**
 * One compliance suite for every ExpertNetwork (the libp2p interface-tests
 * pattern): run by this package against the in-memory network and the mesh
 * adapter (expert-network.test.ts; over real WebRTC in packages/peer's
 * webrtc-integration.test.ts), and by packages/peer against the worker-port
 * implementation. Exported as `@peerbench/mesh/compliance`.
 *
 * A fixture joins peers by id; joining and leaving may be asynchronous, and a
 * network may learn of a peer a little after it joined (the worker port hears
 * of it through a message), so membership is awaited with `vi.waitFor`.
 */
import { getEventListeners } from 'node:events';
import { float16BitsToFloat32, float32ToFloat16Bits } from '@peerbench/protocol';
import { describe, expect, it, vi } from 'vitest';
import { ExpertError, type ExpertHandlers, type ExpertNetwork, type WireTensor } from '../src/network.js';

export interface ExpertNetworkFixture {
  /** A new peer with this id on the fixture's network; every peer already there sees it. */
  join(id: string): ExpertNetwork | Promise<ExpertNetwork>;
  /** The peer leaves (a tab closed): calls to it fail with 'peer-gone'. */
  leave(id: string): void | Promise<void>;
  /**
   * Resolves once what `net` did so far (serve, stop serving) has taken
   * effect. Immediate for most networks; the worker port needs one message
   * round trip to its main thread. Default: nothing to wait for.
   */
  settle?(net: ExpertNetwork): Promise<void>;
}

/** An expert that answers 2x and records what it saw. */
export function doubling(log: string[]): ExpertHandlers {
  return {
    async forward(from, rid, x) {
      log.push(`forward ${from} ${rid} [${x.shape}]`);
      return { shape: x.shape, data: x.data.map((v) => 2 * v) };
    },
    async backward(from, rid, grad) {
      log.push(`backward ${from} ${rid} [${grad.shape}] ${grad.data[0]}`);
    },
  };
}

export const x: WireTensor = { shape: [2, 3], data: Float32Array.of(0.1, 0.2, 0.3, -1, 0.5, 1 / 3) };

export function describeExpertNetworkCompliance(name: string, make: () => ExpertNetworkFixture): void {
  describe(`ExpertNetwork compliance: ${name}`, () => {
    it('lists peers, forwards with the request id, and carries the gradient back', async () => {
      const f = make();
      const a = await f.join('a');
      const b = await f.join('b');
      const log: string[] = [];
      b.serve(doubling(log));
      await f.settle?.(b);
      await vi.waitFor(() => {
        expect(a.peers()).toEqual(['b']);
        expect(b.peers()).toEqual(['a']);
      });
      const y = await a.forward('b', x, { requestId: 'r1', timeoutMs: 1000 });
      expect(y.shape).toEqual([2, 3]);
      expect(Array.from(y.data)).toEqual(Array.from(x.data.map((v) => 2 * v)));
      await a.backward(
        'b',
        { shape: [2, 3], data: new Float32Array(6).fill(0.5) },
        { requestId: 'r1', timeoutMs: 1000 },
      );
      expect(log).toEqual(['forward a r1 [2,3]', 'backward a r1 [2,3] 0.5']);
    });

    it('settled calls leave no listener on a shared AbortSignal; aborting cancels a pending call', async () => {
      const f = make();
      const a = await f.join('a');
      const b = await f.join('b');
      b.serve(doubling([]));
      await f.settle?.(b);
      const controller = new AbortController();
      for (let i = 0; i < 50; i++)
        await a.forward('b', x, { requestId: `s${i}`, timeoutMs: 1000, signal: controller.signal });
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      // A call that never answers: the abort must reject it as cancelled.
      const c = await f.join('c');
      c.serve({ forward: () => new Promise<never>(() => {}), backward: async () => {} });
      await f.settle?.(c);
      const pending = a.forward('c', x, { requestId: 'hang', timeoutMs: 5000, signal: controller.signal });
      controller.abort();
      await expect(pending).rejects.toMatchObject({ code: 'cancelled' });
    });

    it('fp16 on the wire rounds like IEEE half precision', async () => {
      const f = make();
      const a = await f.join('a');
      const b = await f.join('b');
      b.serve(doubling([]));
      await f.settle?.(b);
      const y = await a.forward('b', x, { requestId: 'r2', timeoutMs: 1000, wireDtype: 'fp16' });
      const half = (v: number) => float16BitsToFloat32(float32ToFloat16Bits(v));
      const expected = Array.from(x.data, (v) => half(2 * half(v)));
      // The fake mesh carries fp32; the in-memory network rounds. Either way within half precision.
      for (let i = 0; i < 6; i++) expect(Math.abs(y.data[i]! - expected[i]!)).toBeLessThan(2e-3);
    });

    it('reports a gone peer, a timeout and an expert error with stable codes', async () => {
      const f = make();
      const a = await f.join('a');
      const b = await f.join('b');
      b.serve({
        forward: () => new Promise<WireTensor>(() => undefined),
        backward: async () => {
          throw new ExpertError('invalid', 'no saved input');
        },
      });
      await f.settle?.(b);
      await expect(a.forward('b', x, { requestId: 'r', timeoutMs: 50 })).rejects.toMatchObject({
        code: 'timeout',
      });
      await expect(a.backward('b', x, { requestId: 'r', timeoutMs: 500 })).rejects.toMatchObject({
        code: 'invalid',
      });
      await f.leave('b');
      await vi.waitFor(() => expect(a.peers()).toEqual([]));
      await expect(a.forward('b', x, { requestId: 'r', timeoutMs: 500 })).rejects.toBeInstanceOf(ExpertError);
      await expect(a.forward('b', x, { requestId: 'r', timeoutMs: 500 })).rejects.toMatchObject({
        code: 'peer-gone',
      });
    });

    it('announces peers joining and leaving; stops serving when told', async () => {
      const f = make();
      const a = await f.join('a');
      const events: string[] = [];
      a.on?.('peer-connected', (id) => events.push(`+${id}`));
      a.on?.('peer-disconnected', (id) => events.push(`-${id}`));
      const b = await f.join('b');
      const stop = b.serve(doubling([]));
      await f.settle?.(b);
      await vi.waitFor(() => expect(a.peers()).toEqual(['b']));
      await a.forward('b', x, { requestId: 'r', timeoutMs: 500 });
      stop();
      await f.settle?.(b);
      await expect(a.forward('b', x, { requestId: 'r2', timeoutMs: 500 })).rejects.toMatchObject({
        code: 'rejected',
      });
      await f.leave('b');
      await vi.waitFor(() => expect(events).toEqual(['+b', '-b']));
    });
  });
}
