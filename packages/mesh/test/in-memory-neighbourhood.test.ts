/** The Neighbourhood compliance suite on the in-memory network, and what only the in-memory network does. */
import { describe, expect, it } from 'vitest';
import { InMemoryHub } from '../src/in-memory-network.js';
import { ExpertError } from '../src/network.js';
import { describeNeighbourhoodCompliance } from './neighbourhood-compliance.js';

describeNeighbourhoodCompliance('in-memory', () => {
  let hub: InMemoryHub | null = null;
  return {
    async peers(count, maxLinks) {
      hub = new InMemoryHub({ maxLinks });
      return Array.from({ length: count }, (_, i) => hub!.join(`p${i}`));
    },
    async stop() {
      for (const id of hub?.ids() ?? []) hub!.leave(id);
    },
  };
});

const x = { shape: [1, 2], data: Float32Array.of(1, 2) };

describe('InMemoryHub with bounded neighbourhoods', () => {
  it('only linked peers can call each other, and a peer that leaves closes its links', async () => {
    const hub = new InMemoryHub({ maxLinks: 2 });
    const a = hub.join('a');
    const b = hub.join('b');
    const c = hub.join('c');
    b.serve({ forward: async (_f, _r, t) => t, backward: async () => {} });
    c.serve({ forward: async (_f, _r, t) => t, backward: async () => {} });
    await expect(a.forward('b', x, { requestId: 'r', timeoutMs: 1000 })).rejects.toMatchObject({
      code: 'peer-gone',
    });
    expect(await a.neighbourhood!.link('b')).toBe(true);
    expect((await a.forward('b', x, { requestId: 'r', timeoutMs: 1000 })).shape).toEqual([1, 2]);
    const gone: string[] = [];
    a.on('peer-disconnected', (id) => gone.push(id));
    hub.leave('b');
    expect(gone).toEqual(['b']);
    expect(a.peers()).toEqual([]);
    expect(a.neighbourhood!.candidates()).toEqual({ peerIds: ['c'], roomSize: 2 });
    const err = await a.forward('c', x, { requestId: 'r', timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpertError);
  });

  it('a per-join cap overrides the hub’s, and the full mesh is unchanged without one', async () => {
    const bounded = new InMemoryHub({ maxLinks: 3 });
    const a = bounded.join('a', { maxLinks: 1 });
    bounded.join('b');
    bounded.join('c');
    expect(await a.neighbourhood!.link('b')).toBe(true);
    expect(await a.neighbourhood!.link('c')).toBe(false);
    const full = new InMemoryHub();
    const p = full.join('p');
    full.join('q');
    expect(p.neighbourhood).toBeUndefined();
    expect(p.peers()).toEqual(['q']);
    expect(() => new InMemoryHub({ maxLinks: -1 })).toThrow(RangeError);
  });
});
