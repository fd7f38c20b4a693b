/**
 * Issue 14 in the swarm: --degree and --newcomers parse, a deferred network
 * is invisible until admitted, the tracker's targets, and one small real run
 * with bounded neighbourhoods and late joiners.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryHub } from '@peerbench/mesh';
import type { ChainState } from '@peerbench/peer';
import { describe, expect, it } from 'vitest';
import { parseArgs, type SwarmOptions, UsageError } from '../src/args.js';
import { initBackend } from '../src/backend.js';
import { main } from '../src/cli.js';
import { DeferredNetwork, NewcomerTracker, type TrackedParticipant } from '../src/newcomers.js';
import type { SwarmRecord } from '../src/record.js';

const parse = (...argv: string[]) => parseArgs(argv, '/base') as SwarmOptions;

describe('--degree and --newcomers', () => {
  it('parse, and refuse what cannot run', () => {
    expect(parse('--peers', '128', '--degree', '8')).toMatchObject({
      peers: 128,
      degree: 8,
      newcomers: null,
    });
    expect(parse('--newcomers', '2,2@100', '--steps', '300').newcomers).toEqual({
      good: 2,
      noise: 2,
      atStep: 100,
    });
    expect(parse().degree).toBeNull();
    for (const argv of [
      ['--newcomers', '2@100'],
      ['--newcomers', '0,0@10'],
      ['--newcomers', '1,1@600'],
      ['--degree', '0'],
      ['--degree', '4', '--transport', 'webrtc'],
      ['--peers', '250', '--newcomers', '4,4@10'],
    ])
      expect(() => parseArgs(argv, '/base')).toThrow(UsageError);
  });
});

describe('DeferredNetwork', () => {
  it('is unreachable and refuses links until admitted, then serves what was registered before', async () => {
    const hub = new InMemoryHub({ maxLinks: 2 });
    const a = hub.join('a');
    const late = new DeferredNetwork('late', 2);
    const seen: string[] = [];
    late.on('peer-connected', (id) => seen.push(id));
    late.serve({ forward: async (_f, _r, x) => x, backward: async () => {} });
    expect(late.peers()).toEqual([]);
    expect(await late.neighbourhood!.link('a')).toBe(false);
    expect(late.neighbourhood!.candidates().peerIds).toEqual([]);
    await expect(
      late.forward('a', { shape: [1, 1], data: Float32Array.of(1) }, { requestId: 'r', timeoutMs: 100 }),
    ).rejects.toMatchObject({ code: 'peer-gone' });
    expect(a.neighbourhood!.candidates().peerIds).toEqual([]);
    late.admit(hub.join('late'));
    expect(await a.neighbourhood!.link('late')).toBe(true);
    expect(seen).toEqual(['a']);
    const y = await a.forward(
      'late',
      { shape: [1, 1], data: Float32Array.of(3) },
      { requestId: 'r', timeoutMs: 1000 },
    );
    expect(Array.from(y.data)).toEqual([3]);
  });
});

describe('NewcomerTracker', () => {
  const state = (ranks: number[]): ChainState =>
    ({
      height: 0,
      peerIds: ranks.map((_, i) => `p${i}`),
      ranks,
      stakes: ranks.map(() => 1),
    }) as unknown as ChainState;
  const everyone = (kinds: string[], slotsOf: (i: number) => string[]): TrackedParticipant[] =>
    kinds.map((kind, index) => ({
      index,
      kind,
      peerId: `p${index}`,
      running: true,
      peer: { runtime: { slots: slotsOf(index) } } as unknown as TrackedParticipant['peer'],
    }));

  it('records slot holders and R per block after admission, and evaluates the targets', () => {
    const t = new NewcomerTracker({ good: 1, noise: 1, atStep: 5 }, [3, 4]);
    const kinds = ['honest', 'honest', 'honest', 'honest', 'noise'];
    t.observe(
      { ...state([0.3, 0.2, 0.1, 0, 0]), height: 1 } as ChainState,
      1,
      everyone(kinds, () => []),
    );
    expect(t.traces[0]!.blocks).toEqual([]); // not admitted yet
    t.markAdmitted();
    t.observe(
      { ...state([0.3, 0.2, 0.1, 0, 0]), height: 2 } as ChainState,
      5,
      everyone(kinds, () => []),
    );
    const held = everyone(kinds, (i) => (i === 0 ? ['p0', 'p3', 'p4'] : []));
    t.observe({ ...state([0.3, 0.2, 0.1, 0.25, 0.01]), height: 3 } as ChainState, 10, held);
    const final = state([0.3, 0.2, 0.1, 0.25, 0.01]);
    const rep = t.report(final, held);
    expect(rep.newcomers[0]).toMatchObject({
      kind: 'good',
      joinedAtHeight: 2,
      firstSlotHeight: 3,
      firstRankHeight: 3,
      finalRank: 0.25,
    });
    expect(rep.newcomers[0]!.blocks[1]).toEqual({ height: 3, step: 10, holders: 1, rank: 0.25 });
    expect(rep.trainedMedianRank).toBe(0.2);
    expect(rep.newcomers[0]!.finalPercentileAmongTrained).toBeCloseTo(2 / 3, 9);
    expect(rep.criteria).toEqual({
      goodGatedWithin10Blocks: true,
      goodAboveTrainedMedian: true,
      noiseBelowEveryHonest: true,
    });
    // A noise newcomer above the lowest honest peer fails the target; a good one below the median too.
    const worse = t.report(state([0.3, 0.2, 0.1, 0.15, 0.12]), held);
    expect(worse.criteria.noiseBelowEveryHonest).toBe(false);
    expect(worse.criteria.goodAboveTrainedMedian).toBe(false);
    expect(rep.honestMinRank).toBe(0.1);
  });
});

describe('swarm run with --degree 2 and --newcomers 1,1@6', () => {
  it('keeps at most D links, holds D+1 slots, and writes the newcomer report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarm-newcomers-'));
    try {
      await initBackend();
      const code = await main(
        '--peers 5 --degree 2 --newcomers 1,1@6 --steps 16 --block-steps 2 --eval-every 1000 --eval-size 10 --shard-sizes uniform --quiet --out run'.split(
          ' ',
        ),
        dir,
      );
      expect(code).toBe(0);
      const record = JSON.parse(readFileSync(join(dir, 'run', 'swarm.json'), 'utf8')) as SwarmRecord;
      expect(record.participants.map((p) => p.kind)).toEqual([
        'honest',
        'honest',
        'honest',
        'honest',
        'honest',
        'honest',
        'noise',
      ]);
      expect(record.participants[5]!.shardSize).toBe(200);
      const rep = record.newcomers!;
      expect(rep.newcomers.map((t) => t.kind)).toEqual(['good', 'noise']);
      for (const t of rep.newcomers) {
        expect(t.joinedAtHeight).not.toBeNull();
        expect(t.blocks.length).toBeGreaterThan(2);
        for (const b of t.blocks) expect(b.holders).toBeLessThanOrEqual(2);
      }
      // The good newcomer did not train before it joined.
      expect(record.steps.filter((s) => s.step > 0 && s.step < 6).every((s) => s.trainLoss[5] === null)).toBe(
        true,
      );
      expect(record.steps.filter((s) => s.step >= 6).every((s) => typeof s.trainLoss[5] === 'number')).toBe(
        true,
      );
      expect(record.steps.every((s) => s.failedSteps === 0)).toBe(true);
      expect(typeof record.steps[1]!.cpuMs).toBe('number');
      expect(typeof rep.criteria.noiseBelowEveryHonest).toBe('boolean');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
