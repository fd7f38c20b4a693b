import type { NetworkView } from '@peerbench/peer';
import { describe, expect, it } from 'vitest';
import {
  MAX_HEATMAP_PEERS,
  neighbourhoodUids,
  pageOf,
  standingOf,
  subWeights,
  topRanks,
} from '../src/networkStanding.js';

const id = (k: number) => k.toString(16).padStart(64, '0');
function network(ranks: number[], weights: Array<Array<[number, number]>> = []): NetworkView {
  return {
    height: 7,
    tau: 0.1,
    peers: ranks.map((rank, uid) => ({ uid, peerId: id(uid), stake: 1, rank })),
    weights,
  };
}

describe('standing in a big network', () => {
  it('rank as a share of all rank and as a percentile of the others', () => {
    // 300 peers, rank = uid: uid 299 is first, uid 0 last.
    const net = network(Array.from({ length: 300 }, (_, i) => i));
    const total = (299 * 300) / 2;
    const top = standingOf(net, 299);
    expect(top).toEqual({ share: 299 / total, percentile: 1, position: 1, of: 300 });
    const bottom = standingOf(net, 0);
    expect(bottom).toMatchObject({ share: 0, percentile: 0, position: 300 });
    expect(standingOf(net, 149)?.percentile).toBeCloseTo(149 / 299);
    expect(standingOf(net, 1000)).toBeNull();
    expect(standingOf(null, 0)).toBeNull();
    expect(standingOf(network([0.5]), 0)).toMatchObject({ share: 1, percentile: 1, position: 1, of: 1 });
  });

  it('top ranks, and yours after them when you are not among them', () => {
    const net = network([0.1, 0.5, 0.3, 0.05, 0.05]);
    expect(topRanks(net, 1, 2).map((r) => [r.uid, r.position, r.isSelf])).toEqual([
      [1, 1, true],
      [2, 2, false],
    ]);
    expect(topRanks(net, 4, 2).map((r) => [r.uid, r.position])).toEqual([
      [1, 1],
      [2, 2],
      [4, 5],
    ]);
    expect(topRanks(null, 0, 3)).toEqual([]);
  });

  it('the heatmap is you and your neighbours only, bounded', () => {
    const net = network(
      Array.from({ length: 40 }, () => 1),
      [
        [
          [2, 0.25],
          [5, 0.75],
        ],
        [],
        [
          [0, 1],
          [39, 0],
        ],
      ],
    );
    const hood = {
      maxLinks: 8,
      networkSize: 40,
      triedCount: 3,
      neighbours: [
        { peerId: id(2), reason: 'kept' as const, sinceHeight: 1, score: 0.3, rank: 1 },
        { peerId: id(5), reason: 'exploring' as const, sinceHeight: 6, score: null, rank: 1 },
        { peerId: 'f'.repeat(64), reason: 'exploring' as const, sinceHeight: 6, score: null, rank: null },
      ],
    };
    const uids = neighbourhoodUids(net, 0, hood, []);
    expect(uids).toEqual([0, 2, 5]); // the unregistered neighbour has no row yet
    expect([...subWeights(net, uids)]).toEqual([0, 0.25, 0.75, 1, 0, 0, 0, 0, 0]);
    // Without a neighbourhood view: the peers you know, at most MAX_HEATMAP_PEERS in all.
    const known = Array.from({ length: 39 }, (_, i) => id(i + 1));
    expect(neighbourhoodUids(net, 0, undefined, known)).toHaveLength(MAX_HEATMAP_PEERS);
  });

  it('pages clamp to the pages there are', () => {
    const rows = Array.from({ length: 23 }, (_, i) => i);
    expect(pageOf(rows, 0, 10)).toEqual({ rows: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], page: 0, pages: 3 });
    expect(pageOf(rows, 2, 10).rows).toEqual([20, 21, 22]);
    expect(pageOf(rows, 9, 10).page).toBe(2);
    expect(pageOf([], 0, 10)).toEqual({ rows: [], page: 0, pages: 1 });
  });
});
