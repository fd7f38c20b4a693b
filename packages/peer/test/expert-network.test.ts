/**
 * One compliance suite for every ExpertNetwork: the in-memory one and the
 * mesh adapter (over a structural fake of the mesh here; over real WebRTC in
 * webrtc-integration.test.ts).
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { InMemoryHub } from '../src/in-memory-network.js';
import { MeshExpertNetwork } from '../src/mesh-network.js';
import {
  ExpertError,
  type ExpertHandlers,
  type ExpertNetwork,
  roundTripHalf,
  type WireTensor,
} from '../src/network.js';
import { FakeMeshHub } from './fake-mesh.js';

interface Fixture {
  join(id: string): ExpertNetwork;
  leave(id: string): void;
}

const fixtures: Array<[string, () => Fixture]> = [
  [
    'in-memory',
    () => {
      const hub = new InMemoryHub();
      return { join: (id) => hub.join(id), leave: (id) => hub.leave(id) };
    },
  ],
  [
    'mesh adapter',
    () => {
      const hub = new FakeMeshHub();
      return { join: (id) => new MeshExpertNetwork(hub.join(id), id), leave: (id) => hub.leave(id) };
    },
  ],
];

/** An expert that answers 2x and records what it saw. */
function doubling(log: string[]): ExpertHandlers {
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

const x: WireTensor = { shape: [2, 3], data: Float32Array.of(0.1, 0.2, 0.3, -1, 0.5, 1 / 3) };

describe.each(fixtures)('ExpertNetwork compliance: %s', (_name, make) => {
  it('lists peers, forwards with the request id, and carries the gradient back', async () => {
    const f = make();
    const a = f.join('a');
    const b = f.join('b');
    const log: string[] = [];
    b.serve(doubling(log));
    expect(a.peers()).toEqual(['b']);
    expect(b.peers()).toEqual(['a']);
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
    const a = f.join('a');
    const b = f.join('b');
    b.serve(doubling([]));
    const controller = new AbortController();
    for (let i = 0; i < 50; i++)
      await a.forward('b', x, { requestId: `s${i}`, timeoutMs: 1000, signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // A call that never answers: the abort must reject it as cancelled.
    const c = f.join('c');
    c.serve({ forward: () => new Promise<never>(() => {}), backward: async () => {} });
    const pending = a.forward('c', x, { requestId: 'hang', timeoutMs: 5000, signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'cancelled' });
  });

  it('fp16 on the wire rounds like IEEE half precision', async () => {
    const f = make();
    const a = f.join('a');
    f.join('b').serve(doubling([]));
    const y = await a.forward('b', x, { requestId: 'r2', timeoutMs: 1000, wireDtype: 'fp16' });
    const expected = roundTripHalf(roundTripHalf(x.data).map((v) => 2 * v));
    // The fake mesh carries fp32; the in-memory network rounds. Either way within half precision.
    for (let i = 0; i < 6; i++) expect(Math.abs(y.data[i]! - expected[i]!)).toBeLessThan(2e-3);
  });

  it('reports a gone peer, a timeout and an expert error with stable codes', async () => {
    const f = make();
    const a = f.join('a');
    const b = f.join('b');
    b.serve({
      forward: () => new Promise<WireTensor>(() => undefined),
      backward: async () => {
        throw new ExpertError('invalid', 'no saved input');
      },
    });
    await expect(a.forward('b', x, { requestId: 'r', timeoutMs: 50 })).rejects.toMatchObject({
      code: 'timeout',
    });
    await expect(a.backward('b', x, { requestId: 'r', timeoutMs: 500 })).rejects.toMatchObject({
      code: 'invalid',
    });
    f.leave('b');
    expect(a.peers()).toEqual([]);
    await expect(a.forward('b', x, { requestId: 'r', timeoutMs: 500 })).rejects.toBeInstanceOf(ExpertError);
    await expect(a.forward('b', x, { requestId: 'r', timeoutMs: 500 })).rejects.toMatchObject({
      code: 'peer-gone',
    });
  });

  it('announces peers joining and leaving; stops serving when told', async () => {
    const f = make();
    const a = f.join('a');
    const events: string[] = [];
    a.on?.('peer-connected', (id) => events.push(`+${id}`));
    a.on?.('peer-disconnected', (id) => events.push(`-${id}`));
    const b = f.join('b');
    const stop = b.serve(doubling([]));
    await a.forward('b', x, { requestId: 'r', timeoutMs: 500 });
    stop();
    await expect(a.forward('b', x, { requestId: 'r2', timeoutMs: 500 })).rejects.toMatchObject({
      code: 'rejected',
    });
    f.leave('b');
    expect(events).toEqual(['+b', '-b']);
  });
});

describe('MeshExpertNetwork serving side', () => {
  it('rejects requests without a valid request id as invalid, before the model sees them', async () => {
    const hub = new FakeMeshHub();
    const raw = hub.join('raw');
    const log: string[] = [];
    new MeshExpertNetwork(hub.join('b'), 'b').serve(doubling(log));
    await expect(raw.request('b', 'expert.forward', [x], { meta: {} })).rejects.toMatchObject({
      code: 'invalid',
    });
    await expect(
      raw.request('b', 'expert.forward', [x], { meta: { rid: 'x'.repeat(65) } }),
    ).rejects.toMatchObject({
      code: 'invalid',
    });
    await expect(raw.request('b', 'expert.forward', [x, x], { meta: { rid: 'ok' } })).rejects.toMatchObject({
      code: 'invalid',
    });
    expect(log).toEqual([]);
    const ok = await raw.request('b', 'expert.forward', [x], { meta: { rid: 'ok' } });
    expect(ok).toHaveLength(1);
  });
});
