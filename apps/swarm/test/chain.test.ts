import { ExpertError, InMemoryHub } from '@peerbench/mesh';
import { classCounts, loadMnistDigits } from '@peerbench/peer';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../src/backend.js';
import {
  chainMixA,
  chainServerOptions,
  DEFAULT_CHAIN_SETUP,
  parseChainArgs,
  rowsOfDigits,
  runChain,
  summarizeChain,
} from '../src/chain.js';
import { AllowedPairs, restrictedNetwork } from '../src/topology.js';

beforeAll(initBackend);
vi.setConfig({ testTimeout: 120_000 });

const echo = {
  forward: async (_from: string, _id: string, x: { shape: number[]; data: Float32Array }) => x,
  backward: async () => undefined,
};

describe('the per-pair allow list (topology.ts)', () => {
  it('hides, refuses and fails calls across a link that is not allowed, in both directions', async () => {
    const hub = new InMemoryHub();
    const pairs = new AllowedPairs([
      ['a', 'b'],
      ['b', 'c'],
    ]);
    const [a, b, c] = ['a', 'b', 'c'].map((id) => restrictedNetwork(hub.join(id), pairs));
    for (const n of [a!, b!, c!]) n.serve(echo);
    expect(a!.peers()).toEqual(['b']);
    expect(b!.peers().sort()).toEqual(['a', 'c']);
    expect(c!.peers()).toEqual(['b']);
    const x = { shape: [1, 2], data: Float32Array.of(1, 2) };
    const opts = { requestId: 'r', timeoutMs: 1000 };
    expect((await a!.forward('b', x, opts)).data).toEqual(x.data);
    await expect(a!.forward('c', x, opts)).rejects.toMatchObject({ code: 'peer-gone' });
    await expect(c!.backward('a', x, opts)).rejects.toBeInstanceOf(ExpertError);
    // A caller outside the list is refused by the server side too (an unrestricted endpoint on the hub).
    const outsider = hub.join('d');
    await expect(outsider.forward('a', x, opts)).rejects.toMatchObject({ code: 'rejected' });
    expect(() => new AllowedPairs([['a', 'a']])).toThrow(RangeError);
  });
});

describe('the chain experiment (chain.ts)', () => {
  it('keeps the rows of the asked digits and parses its flags', async () => {
    const y = new Float32Array(3 * 10);
    [4, 7, 5].forEach((d, r) => {
      y[r * 10 + d] = 1;
    });
    const batch = { x: Float32Array.of(0, 0, 1, 1, 2, 2), y, size: 3 };
    const kept = rowsOfDigits(batch, [4, 5], 2);
    expect(kept.size).toBe(2);
    expect(Array.from(kept.x)).toEqual([0, 0, 2, 2]);
    expect(parseChainArgs(['--seeds', '2-4', '--steps', '5'], '/b')).toMatchObject({
      seeds: [2, 3, 4],
      steps: 5,
      out: '/b/chain-out',
    });
    expect(parseChainArgs([], '/b')).toMatchObject({ aTarget: 6, pInit: 'zero' });
    expect(parseChainArgs(['--a-target', '12', '--p-init', 'identity'], '/b')).toMatchObject({
      aTarget: 12,
      pInit: 'identity',
    });
    expect(() => parseChainArgs(['--a-target', '40'], '/b')).toThrow(/a handful/);
    expect(() => parseChainArgs(['--p-init', 'ones'], '/b')).toThrow(/--p-init/);
    expect(parseChainArgs([], '/b')).toMatchObject({ topology: 'chain', remoteGradients: 'on' });
    expect(parseChainArgs(['--topology', 'triangle', '--remote-grads', 'frozen'], '/b')).toMatchObject({
      topology: 'triangle',
      remoteGradients: 'frozen',
    });
    expect(() => parseChainArgs(['--topology', 'ring'], '/b')).toThrow(/--topology/);
    expect(() => parseChainArgs(['--remote-grads', 'off'], '/b')).toThrow(/--remote-grads/);
    // The default is session 1's shard of A exactly (3 + 3 target digits); 12 splits evenly.
    expect(classCounts(chainMixA(6), 200)).toEqual([49, 49, 48, 48, 3, 3, 0, 0, 0, 0]);
    expect(classCounts(chainMixA(12), 200)).toEqual([47, 47, 47, 47, 6, 6, 0, 0, 0, 0]);
    expect(() => parseChainArgs(['--bogus'], '/b')).toThrow(/unknown flag/);
    expect(() => parseChainArgs(['--steps', '0'], '/b')).toThrow(/--steps/);
  });

  it('runs A – B – C at both depths with finite accuracies and leaves no tensor behind', async () => {
    const digits = await loadMnistDigits();
    const before = tf.memory().numTensors;
    const runs = [await runChain(digits, 1, 0, 3), await runChain(digits, 1, 1, 3)];
    // With P started at the identity and two handfuls of target digits at A, too.
    const identity = await runChain(digits, 1, 1, 3, {
      ...DEFAULT_CHAIN_SETUP,
      aTarget: 12,
      pInit: 'identity',
    });
    // The controls: A – C linked too, and callers' gradients accepted but frozen.
    const triangle = await runChain(digits, 1, 0, 3, { ...DEFAULT_CHAIN_SETUP, topology: 'triangle' });
    const frozen = await runChain(digits, 1, 0, 3, { ...DEFAULT_CHAIN_SETUP, remoteGradients: 'frozen' });
    expect(tf.memory().numTensors).toBe(before);
    expect(identity.targetExamples.A).toBe(12);
    expect([runs[0]!.aLinks, triangle.aLinks, frozen.aLinks]).toEqual([1, 2, 1]);
    // Frozen: B still takes its callers' backwards (their inputs feed its student of G), at rate 0.
    expect(frozen.backwardsAtB).toBeGreaterThan(0);
    expect(chainServerOptions('frozen')).toMatchObject({ remoteOptimizer: 'sgd', remoteLearningRate: 0 });
    expect(chainServerOptions('on')).not.toHaveProperty('remoteLearningRate');
    for (const r of runs) {
      for (const v of [r.task, r.target, r.taskOffline, r.targetOffline]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      // A barely holds the target digits, C holds many.
      expect(r.targetExamples.A).toBeLessThan(10);
      expect(r.targetExamples.C).toBeGreaterThan(300);
    }
    const summary = summarizeChain(
      { seeds: [1], steps: 3, out: '/x', quiet: true, ...DEFAULT_CHAIN_SETUP },
      runs,
    ).summary;
    expect(summary.gain.task?.mean).toBeCloseTo(runs[1]!.task - runs[0]!.task, 10);
  });
});
