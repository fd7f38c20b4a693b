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

  it('a lowest that changes resets the count; with everyone tried, a neighbour above the merit floor is kept', () => {
    const p = new NeighbourPolicy(opts({ dropAfterBlocks: 2, trialBlocks: 0 }), createRng(3));
    const all = ['a', 'b', 'c', 'd'];
    expect(p.decide(input(0, ['a', 'b', 'c'], all, { a: 1, b: 2, c: 0.5 })).drop).toEqual([]);
    // c is no longer the lowest: a is, for one block only.
    expect(p.decide(input(1, ['a', 'b', 'c'], all, { a: 0.1, b: 2, c: 3 })).drop).toEqual([]);
    expect(p.decide(input(2, ['a', 'b', 'c'], all, { a: 3, b: 0.1, c: 2 })).drop).toEqual([]);
    expect(p.decide(input(3, ['a', 'b', 'c'], all, { a: 3, b: 0.1, c: 2 })).drop).toEqual(['b']);
    // d was tried (linked) and b released: everyone has been tried. d is the lowest but
    // earns 1/6 of the merit, above the floor (0.25 × 1/3): nothing more is released.
    p.decide(input(4, ['a', 'c', 'd'], all, { a: 3, c: 2, d: 1 }));
    for (let h = 5; h < 30; h++)
      expect(p.decide(input(h, ['a', 'c', 'd'], all, { a: 3, c: 2, d: 1 })).drop).toEqual([]);
  });

  it('with everyone tried, one that stays below the merit floor is released, cools down, and is retried later', () => {
    const p = new NeighbourPolicy(
      opts({
        trialBlocks: 1,
        floorBlocks: 2,
        releasedCooldownBlocks: 4,
        maxCooldownBlocks: 8,
        retryExploreShare: 0,
      }),
      createRng(6),
    );
    const all = ['a', 'b', 'n'];
    const q = { a: 1, b: 1, n: 0 };
    const drops = [0, 1, 2].map((h) => p.decide(input(h, all, all, q)).drop);
    drops.push(p.decide(input(3, ['a', 'b'], all, q)).drop);
    // Past its trial from block 1, below the floor at 1 and 2: released at 2.
    expect(drops).toEqual([[], [], ['n'], []]);
    expect(p.coolingDown('n', 3)).toBe(true);
    // Its place stays free while n cools down (nobody else to try)...
    expect(p.decide(input(4, ['a', 'b'], all, q)).link).toEqual([]);
    expect(p.decide(input(5, ['a', 'b'], all, q)).link).toEqual([]);
    // ... and n is offered again once 4 blocks have passed: it may have improved.
    expect(p.decide(input(6, ['a', 'b'], all, q)).link).toEqual(['n']);
    // Still useless: released again, now for 8 blocks (doubled).
    for (let h = 7; h < 9; h++) expect(p.decide(input(h, all, all, q)).drop).toEqual([]);
    expect(p.decide(input(9, all, all, q)).drop).toEqual(['n']);
    expect(p.coolingDown('n', 16)).toBe(true);
    expect(p.coolingDown('n', 17)).toBe(false);
  });

  it('hysteresis: the floor count survives a block between the floor and twice the floor, and resets above', () => {
    const p = new NeighbourPolicy(opts({ trialBlocks: 0, floorBlocks: 3, meritFloor: 0.25 }), createRng(7));
    const all = ['a', 'b', 'n'];
    // Even share 1/3, floor 1/12 ≈ 0.083, twice the floor ≈ 0.167 (merit = share, score and rank alike).
    const low = { a: 1, b: 1, n: 0 };
    const between = { a: 1, b: 1, n: 0.25 }; // share 0.111
    const high = { a: 1, b: 1, n: 0.6 }; // share 0.23
    expect(p.decide(input(0, all, all, low)).drop).toEqual([]);
    expect(p.decide(input(1, all, all, between)).drop).toEqual([]);
    expect(p.decide(input(2, all, all, low)).drop).toEqual([]);
    expect(p.decide(input(3, all, all, low)).drop).toEqual(['n']);
    const r = new NeighbourPolicy(opts({ trialBlocks: 0, floorBlocks: 3, meritFloor: 0.25 }), createRng(7));
    r.decide(input(0, all, all, low));
    r.decide(input(1, all, all, low));
    r.decide(input(2, all, all, high));
    expect(r.decide(input(3, all, all, low)).drop).toEqual([]);
    expect(r.decide(input(4, all, all, low)).drop).toEqual([]);
    expect(r.decide(input(5, all, all, low)).drop).toEqual(['n']);
  });

  it('when nobody earns, nobody is released for the floor (nothing tells them apart)', () => {
    const p = new NeighbourPolicy(opts({ trialBlocks: 0, floorBlocks: 1 }), createRng(8));
    const all = ['a', 'b', 'c'];
    for (let h = 0; h < 10; h++) expect(p.decide(input(h, all, all, {})).drop).toEqual([]);
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
    expect(() => new NeighbourPolicy(opts({ meritFloor: 1 }), createRng(1))).toThrow(RangeError);
    expect(() => new NeighbourPolicy(opts({ floorBlocks: 0 }), createRng(1))).toThrow(RangeError);
    expect(
      () => new NeighbourPolicy(opts({ releasedCooldownBlocks: 10, maxCooldownBlocks: 5 }), createRng(1)),
    ).toThrow(RangeError);
    expect(() => new NeighbourPolicy(opts({ retryExploreShare: -0.1 }), createRng(1))).toThrow(RangeError);
  });

  it('property: never keeps more than D, releases at most one (plus extras over D), never one on trial', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 4 }),
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
            for (const id of d.link) {
              expect(neighbours).not.toContain(id);
              expect(d.drop).not.toContain(id);
              expect(p.coolingDown(id, h)).toBe(false);
            }
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: a neighbour that never earns is released within trialBlocks + floorBlocks blocks, everyone tried', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.double({ min: 0.3, max: 1, noNaN: true }), { minLength: 8, maxLength: 8 }),
        fc.integer(),
        (maxLinks, trialBlocks, floorBlocks, quality, seed) => {
          const p = new NeighbourPolicy(opts({ maxLinks, trialBlocks, floorBlocks }), createRng(seed));
          // Everyone is a neighbour (nobody untried): only the floor can release.
          const all = Array.from({ length: maxLinks }, (_, i) => `p${i}`);
          const useless = all[Math.abs(seed) % maxLinks]!;
          const score = (id: string) => (id === useless ? 0 : quality[Number(id.slice(1))]!);
          let releasedAt: number | null = null;
          for (let h = 0; h < trialBlocks + floorBlocks + 5 && releasedAt === null; h++) {
            const d = p.decide({ height: h, neighbours: all, candidates: all, score, rank: score });
            for (const id of d.drop) expect(id).toBe(useless);
            if (d.drop.length) releasedAt = h;
          }
          expect(releasedAt).toBe(trialBlocks + floorBlocks - 1);
        },
      ),
      { numRuns: 200 },
    );
  });
});

/**
 * `n` peers, each running a policy over the in-memory hub's neighbourhood
 * (symmetric, refused when full); quality q_j is what every peer scores j at
 * (its own score and its R alike). At `newcomerAt` a good newcomer ('new',
 * quality 1, with a policy) and a noise one ('noise', quality 0, no policy:
 * it only accepts links) join.
 */
async function simulate(seed: number, n: number, D: number, blocks: number, newcomerAt: number) {
  const hub = new InMemoryHub({ maxLinks: D });
  const rng = createRng(seed);
  const quality = new Map<string, number>();
  const peers: { id: string; policy: NeighbourPolicy }[] = [];
  const join = (id: string, q: number, policy: boolean) => {
    hub.join(id);
    quality.set(id, q);
    if (policy)
      peers.push({ id, policy: new NeighbourPolicy({ maxLinks: D }, createRng(seed * 1000 + peers.length)) });
  };
  for (let i = 0; i < n; i++) join(`p${i}`, rng.next(), true);
  let newcomerLinkedAt: number | null = null;
  const dropsByBlock: number[] = [];
  const noiseHolders: number[] = [];
  const linkCounts: number[] = [];
  for (let h = 0; h < blocks; h++) {
    if (h === newcomerAt) {
      join('new', 1, true);
      join('noise', 0, false);
    }
    let drops = 0;
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
    dropsByBlock.push(drops);
    for (const { id } of peers) linkCounts.push(hub.endpoint(id)!.peers().length);
    if (h >= newcomerAt) noiseHolders.push(hub.endpoint('noise')!.peers().length);
    if (newcomerLinkedAt === null && hub.endpoint('new')?.peers().length) newcomerLinkedAt = h;
  }
  return { newcomerLinkedAt, dropsByBlock, noiseHolders, linkCounts };
}

const sum = (v: number[]) => v.reduce((a, x) => a + x, 0);

describe('NeighbourPolicy across a network (in-memory hub)', () => {
  it('property: a newcomer is linked within 10 blocks, also after everyone tried everyone; links stay ≤ D', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 6, max: 24 }),
        fc.integer({ min: 2, max: 8 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 1_000_000 }),
        async (n, D, late, seed) => {
          // late: the newcomer comes after 150 blocks, when every peer has long tried every other.
          const at = late ? 150 : 10;
          const r = await simulate(seed, n, Math.min(D, n - 1), at + 12, at);
          expect(r.newcomerLinkedAt).not.toBeNull();
          expect(r.newcomerLinkedAt! - at).toBeLessThan(10);
          expect(Math.max(...r.linkCounts)).toBeLessThanOrEqual(D);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a noise newcomer loses its holders after exploration; releases fall off once everyone is tried (no thrash)', async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const r = await simulate(seed, 32, 8, 240, 40);
      // Linked at first (it is untried: 8 holders while the peers explore, each for its
      // trial and floor blocks), then released: from 45 blocks after joining only the
      // retries after its cool-downs hold it.
      expect(Math.max(...r.noiseHolders.slice(0, 5))).toBeGreaterThan(0);
      const after = r.noiseHolders.slice(45);
      expect(Math.max(...after)).toBeLessThanOrEqual(3);
      expect(sum(after) / after.length).toBeLessThan(1.5);
      // Releases per peer and block (33 peers): exploring takes ~150 blocks; after it only
      // the floor's retries of the least useful peers are left, spaced by doubling cool-downs.
      const late = sum(r.dropsByBlock.slice(160)) / (80 * 33);
      expect(late).toBeLessThan(0.1);
      expect(sum(r.dropsByBlock.slice(160))).toBeLessThan(sum(r.dropsByBlock.slice(40, 120)));
    }
  });
});
