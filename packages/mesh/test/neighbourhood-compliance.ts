/**
 * One compliance suite for every Neighbourhood (issue 14; the libp2p
 * interface-tests pattern, like expert-network-compliance.ts): run here on
 * the in-memory network (in-memory-neighbourhood.test.ts) and on the WebRTC
 * mesh. Transport-agnostic: a fixture hands out networks that carry a
 * `neighbourhood`, and every effect is awaited with `vi.waitFor` (links over
 * WebRTC open and close asynchronously).
 */
import { describe, expect, it, vi } from 'vitest';
import type { Neighbourhood } from '../src/neighbourhood.js';
import type { ExpertNetwork } from '../src/network.js';

export interface NeighbourhoodFixture {
  /** `count` peers in one room, each with at most `maxLinks` links, none linked yet. */
  peers(count: number, maxLinks: number): Promise<ExpertNetwork[]>;
  /** Stops everything the fixture started. */
  stop(): Promise<void>;
}

function nb(net: ExpertNetwork): Neighbourhood {
  if (!net.neighbourhood) throw new Error(`${net.selfId} has no neighbourhood`);
  return net.neighbourhood;
}

/** Records the membership events one network emits. */
function eventLog(net: ExpertNetwork): string[] {
  const log: string[] = [];
  net.on?.('peer-connected', (id) => log.push(`+${id}`));
  net.on?.('peer-disconnected', (id) => log.push(`-${id}`));
  return log;
}

export function describeNeighbourhoodCompliance(name: string, make: () => NeighbourhoodFixture): void {
  describe(`Neighbourhood compliance: ${name}`, () => {
    const withFixture =
      (count: number, maxLinks: number, body: (nets: ExpertNetwork[]) => Promise<void>) => async () => {
        const f = make();
        try {
          await body(await f.peers(count, maxLinks));
        } finally {
          await f.stop();
        }
      };

    it(
      'starts unlinked, lists the others as candidates, and links symmetrically with events on both sides',
      withFixture(3, 2, async ([a, b, c]) => {
        expect(nb(a!).maxLinks).toBe(2);
        expect(a!.peers()).toEqual([]);
        await vi.waitFor(async () => {
          const seen = await nb(a!).refreshCandidates();
          expect(new Set(seen.peerIds)).toEqual(new Set([b!.selfId, c!.selfId]));
        });
        expect(nb(a!).candidates().peerIds).not.toContain(a!.selfId);
        const logA = eventLog(a!);
        const logB = eventLog(b!);
        expect(await nb(a!).link(b!.selfId)).toBe(true);
        expect(a!.peers()).toEqual([b!.selfId]);
        await vi.waitFor(() => expect(b!.peers()).toEqual([a!.selfId]));
        await vi.waitFor(() => {
          expect(logA).toEqual([`+${b!.selfId}`]);
          expect(logB).toEqual([`+${a!.selfId}`]);
        });
        expect(c!.peers()).toEqual([]);
        // Linking again is a no-op that still answers true.
        expect(await nb(b!).link(a!.selfId)).toBe(true);
        expect(a!.peers()).toEqual([b!.selfId]);
      }),
    );

    it(
      'refuses a link beyond either side’s cap and never holds more than maxLinks',
      withFixture(4, 2, async ([a, b, c, d]) => {
        expect(await nb(a!).link(b!.selfId)).toBe(true);
        expect(await nb(a!).link(c!.selfId)).toBe(true);
        // a is full: its own third link and anyone's link to it are refused.
        expect(await nb(a!).link(d!.selfId)).toBe(false);
        expect(await nb(d!).link(a!.selfId)).toBe(false);
        expect(a!.peers().length).toBe(2);
        expect(d!.peers()).toEqual([]);
        // A peer that is not full can still link to anyone else who is not.
        expect(await nb(d!).link(b!.selfId)).toBe(true);
        await vi.waitFor(() => expect(new Set(b!.peers())).toEqual(new Set([a!.selfId, d!.selfId])));
        for (const net of [a!, b!, c!, d!]) expect(net.peers().length).toBeLessThanOrEqual(2);
      }),
    );

    it(
      'unlinks from either side for both, and does not re-link on its own',
      withFixture(3, 2, async ([a, b, c]) => {
        expect(await nb(a!).link(b!.selfId)).toBe(true);
        await vi.waitFor(() => expect(b!.peers()).toEqual([a!.selfId]));
        const logA = eventLog(a!);
        nb(b!).unlink(a!.selfId);
        await vi.waitFor(() => {
          expect(a!.peers()).toEqual([]);
          expect(b!.peers()).toEqual([]);
          expect(logA).toEqual([`-${b!.selfId}`]);
        });
        // Something else happens in the room after the unlink; the old pair stays apart.
        expect(await nb(a!).link(c!.selfId)).toBe(true);
        await vi.waitFor(() => expect(c!.peers()).toEqual([a!.selfId]));
        expect(a!.peers()).toEqual([c!.selfId]);
        expect(b!.peers()).toEqual([]);
        // The freed place can be taken again.
        expect(await nb(b!).link(a!.selfId)).toBe(true);
        await vi.waitFor(() => expect(new Set(a!.peers())).toEqual(new Set([b!.selfId, c!.selfId])));
        // Unlinking a peer that is not linked changes nothing.
        nb(c!).unlink(b!.selfId);
        expect(c!.peers()).toEqual([a!.selfId]);
      }),
    );

    it(
      'refuses unknown peers and itself, and never rejects',
      withFixture(2, 2, async ([a]) => {
        await expect(nb(a!).link('no-such-peer')).resolves.toBe(false);
        await expect(nb(a!).link(a!.selfId)).resolves.toBe(false);
        expect(a!.peers()).toEqual([]);
      }),
    );
  });
}
