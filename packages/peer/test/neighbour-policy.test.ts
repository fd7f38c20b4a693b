/**
 * The neighbour policy (issue 14) on its own, and a network of policies over
 * the in-memory hub's real neighbourhoods (symmetric links, refused when full).
 */
import { createRng } from '@peerbench/mechanism';
import { InMemoryHub } from '@peerbench/mesh';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyNeighbourDecision,
  NeighbourPolicy,
  type NeighbourPolicyInput,
  type NeighbourPolicyOptions,
} from '../src/neighbour-policy.js';

const opts = (o: Partial<NeighbourPolicyOptions> = {}) => ({
  maxLinks: 3,
  dropAfterBlocks: 2,
  trialBlocks: 2,
  rankShare: 0.5,
  candidatesPerPlace: 2,
  refusedCooldownBlocks: 2,
  ...o,
});

const input = (
  height: number,
  neighbours: string[],
  candidates: string[],
  quality: Record<string, number> = {},
): NeighbourPolicyInput => ({
  height,
  neighbours,
  candidates,
  score: (id) => quality[id] ?? null,
  rank: (id) => quality[id] ?? null,
});

describe('NeighbourPolicy', () => {
  it('fills free places from untried candidates; a new neighbour explores for trialBlocks, then is kept', () => {
    const p = new NeighbourPolicy(opts(), createRng(1));
    const all = ['a', 'b', 'c', 'd', 'e'];
    const first = p.decide(input(10, [], all));
    expect(first.drop).toEqual([]);
    expect(first.freePlaces).toBe(3);
    expect(first.link).toHaveLength(5); // 3 places × 2 candidates, capped by the 5 members
    expect(new Set(first.link).size).toBe(5);
    const linked = first.link.slice(0, 3);
    const d11 = p.decide(input(11, linked, all));
    expect(d11.neighbours.map((n) => n.reason)).toEqual(['exploring', 'exploring', 'exploring']);
    expect(d11.neighbours.map((n) => n.sinceHeight)).toEqual([11, 11, 11]);
    expect(d11.freePlaces).toBe(0);
    expect(d11.link).toEqual([]);
    const d13 = p.decide(input(13, linked, all));
    expect(d13.neighbours.map((n) => n.reason)).toEqual(['kept', 'kept', 'kept']);
    expect(p.triedCount).toBe(3);
  });

  it('releases the lowest only after it stayed lowest for K blocks, one per block, never during its trial', () => {
    const p = new NeighbourPolicy(opts({ dropAfterBlocks: 3, trialBlocks: 2 }), createRng(2));
    const q = { a: 0.5, b: 0.4, c: 0.1, d: 0.3 };
    const all = ['a', 'b', 'c', 'd'];
    const held = ['a', 'b', 'c'];
    const drops: string[][] = [];
    for (let h = 0; h < 8; h++) drops.push(p.decide(input(h, held, all, q)).drop);
    // Held from 0; past the trial from block 2; lowest at 2, 3, 4 → released at block 4, once.
    expect(drops).toEqual([[], [], [], [], ['c'], [], [], []]);
  });

  it('a lowest that changes resets the count; a peer that tried everyone keeps its neighbours', () => {
    const p = new NeighbourPolicy(opts({ dropAfterBlocks: 2, trialBlocks: 0 }), createRng(3));
    const all = ['a', 'b', 'c', 'd'];
    expect(p.decide(input(0, ['a', 'b', 'c'], all, { a: 1, b: 2, c: 0.5 })).drop).toEqual([]);
    // c is no longer the lowest: a is, for one block only.
    expect(p.decide(input(1, ['a', 'b', 'c'], all, { a: 0.1, b: 2, c: 3 })).drop).toEqual([]);
    expect(p.decide(input(2, ['a', 'b', 'c'], all, { a: 3, b: 0.1, c: 2 })).drop).toEqual([]);
    expect(p.decide(input(3, ['a', 'b', 'c'], all, { a: 3, b: 0.1, c: 2 })).drop).toEqual(['b']);
    // d was tried (linked) and b released: everyone has been tried, nothing more is released.
    p.decide(input(4, ['a', 'c', 'd'], all, { a: 3, c: 2, d: 0.1 }));
    for (let h = 5; h < 15; h++)
      expect(p.decide(input(h, ['a', 'c', 'd'], all, { a: 3, c: 2, d: 0.1 })).drop).toEqual([]);
  });

  it('a refused candidate waits out its cooldown; with nobody untried, free places go to the best tried peer', () => {
    const p = new NeighbourPolicy(
      opts({ maxLinks: 1, candidatesPerPlace: 1, refusedCooldownBlocks: 2 }),
      createRng(4),
    );
    const first = p.decide(input(0, [], ['x']));
    expect(first.link).toEqual(['x']);
    expect(p.decide(input(1, [], ['x'])).link).toEqual([]); // refused at 0, cooling down
    expect(p.decide(input(2, [], ['x'])).link).toEqual(['x']);
    const q = new NeighbourPolicy(opts({ maxLinks: 2, candidatesPerPlace: 1 }), createRng(5));
    q.decide(input(0, ['a', 'b'], ['a', 'b', 'c']));
    // b left; a and b were tried; c is untried and offered first, then the tried one with the best R.
    const d = q.decide(input(1, ['a'], ['a', 'b', 'c'], { b: 0.7 }));
    expect(d.link).toEqual(['c', 'b']);
  });

  it('rejects nonsense settings', () => {
    expect(() => new NeighbourPolicy(opts({ maxLinks: -1 }), createRng(1))).toThrow(RangeError);
    expect(() => new NeighbourPolicy(opts({ dropAfterBlocks: 0 }), createRng(1))).toThrow(RangeError);
    expect(() => new NeighbourPolicy(opts({ rankShare: 2 }), createRng(1))).toThrow(RangeError);
  });

  it('property: never keeps more than D, releases at most one (plus extras over D), never one on trial', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.tuple(
            fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { maxLength: 8 }),
            fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 12, maxLength: 12 }),
          ),
          { minLength: 1, maxLength: 25 },
        ),
        fc.integer(),
        (maxLinks, trialBlocks, blocks, seed) => {
          const p = new NeighbourPolicy(opts({ maxLinks, trialBlocks, dropAfterBlocks: 1 }), createRng(seed));
          const all = Array.from({ length: 12 }, (_, i) => `p${i}`);
          const since = new Map<string, number>();
          blocks.forEach(([linkedIdx, scores], h) => {
            const neighbours = linkedIdx.map((i) => `p${i}`);
            for (const id of [...since.keys()]) if (!neighbours.includes(id)) since.delete(id);
            for (const id of neighbours) if (!since.has(id)) since.set(id, h);
            const d = p.decide({
              height: h,
              neighbours,
              candidates: all,
              score: (id) => scores[Number(id.slice(1))]!,
              rank: (id) => scores[Number(id.slice(1))]!,
            });
            expect(d.neighbours.length).toBeLessThanOrEqual(maxLinks);
            expect(d.neighbours.length + d.drop.length).toBe(neighbours.length);
            expect(d.drop.length).toBeLessThanOrEqual(Math.max(1, neighbours.length - maxLinks));
            if (neighbours.length <= maxLinks)
              for (const id of d.drop) expect(h - since.get(id)!).toBeGreaterThanOrEqual(trialBlocks);
            expect(d.freePlaces).toBe(maxLinks - d.neighbours.length);
            for (const id of d.link) expect(neighbours).not.toContain(id);
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});

/**
 * `n` peers, each running a policy over the in-memory hub's neighbourhood
 * (symmetric, refused when full); quality q_j is what every peer scores j at.
 */
async function simulate(seed: number, n: number, D: number, blocks: number, newcomerAt: number) {
  const hub = new InMemoryHub({ maxLinks: D });
  const rng = createRng(seed);
  const quality = new Map<string, number>();
  const peers: { id: string; policy: NeighbourPolicy }[] = [];
  const join = (id: string) => {
    hub.join(id);
    quality.set(id, rng.next());
    peers.push({ id, policy: new NeighbourPolicy({ maxLinks: D }, createRng(seed * 1000 + peers.length)) });
  };
  for (let i = 0; i < n; i++) join(`p${i}`);
  let newcomerLinkedAt: number | null = null;
  let drops = 0;
  const linkCounts: number[] = [];
  for (let h = 0; h < blocks; h++) {
    if (h === newcomerAt) join('new');
    for (const { id, policy } of peers) {
      const net = hub.endpoint(id)!;
      const q = (j: string) => quality.get(j) ?? 0;
      const d = policy.decide({
        height: h,
        neighbours: net.peers(),
        candidates: net.neighbourhood!.candidates().peerIds,
        score: q,
        rank: q,
      });
      drops += d.drop.length;
      await applyNeighbourDecision(net.neighbourhood!, d);
    }
    for (const { id } of peers) linkCounts.push(hub.endpoint(id)!.peers().length);
    if (newcomerLinkedAt === null && hub.endpoint('new')?.peers().length) newcomerLinkedAt = h;
  }
  return { newcomerLinkedAt, drops, linkCounts };
}

describe('NeighbourPolicy across a network (in-memory hub)', () => {
  it('a newcomer is linked by someone within 10 blocks; links stay ≤ D; rotation stops once all are tried', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const r = await simulate(seed, 32, 8, 60, 30);
      expect(r.newcomerLinkedAt).not.toBeNull();
      expect(r.newcomerLinkedAt! - 30).toBeLessThan(10);
      expect(Math.max(...r.linkCounts)).toBeLessThanOrEqual(8);
    }
    // 12 peers, D = 4: every one tries the others within bounded time, then nothing is released any more.
    const early = await simulate(7, 12, 4, 60, 1_000);
    const late = await simulate(7, 12, 4, 120, 1_000);
    expect(late.drops).toBe(early.drops);
  });
});
