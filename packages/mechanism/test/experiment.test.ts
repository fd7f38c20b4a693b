import { describe, expect, it } from 'vitest';
import { createWorld, isIdentity, runFig4, runFig5, trialSeed } from '../src/index.js';
import { dataRange, escapeXml, niceTicks, tickLabel } from '../src/svg.js';

describe('Fig 4 experiment (section 3)', () => {
  it("reproduces the paper's finding: W = I at alpha/tau = 1, positive correlation at alpha/tau = 25", () => {
    const result = runFig4({ n: 16, trials: 3, ratios: [1, 25], seed: 1 });
    const [low, high] = result.ratios;
    expect(low!.identityFraction).toBe(1);
    for (const t of low!.trials) {
      // R flat at 1/n
      for (const r of t.rStar) expect(r).toBeCloseTo(1 / 16, 12);
      expect(t.pearson).toBeNull();
    }
    expect(high!.identityFraction).toBe(0);
    expect(high!.pearson.count).toBe(3);
    expect(high!.pearson.mean!).toBeGreaterThan(0);
    expect(high!.spearman.mean!).toBeGreaterThan(0);
    expect(high!.meanSparsity).toBeLessThan(0.5);
  }, 60_000); // heavy on a loaded 2-core CI box; never a timing assertion

  it('is reproducible from the seed and uses the same worlds for every ratio', () => {
    const a = runFig4({ n: 5, trials: 2, ratios: [10, 40], seed: 7 });
    const b = runFig4({ n: 5, trials: 2, ratios: [10, 40], seed: 7 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.ratios[0]!.trials[1]!.ideal).toEqual(a.ratios[1]!.trials[1]!.ideal);
    const c = runFig4({ n: 5, trials: 1, ratios: [10], seed: 8 });
    expect(c.ratios[0]!.trials[0]!.ideal).not.toEqual(a.ratios[0]!.trials[0]!.ideal);
  });

  it('rejects bad sweeps', () => {
    expect(() => runFig4({ n: 1, trials: 1, ratios: [1], seed: 1 })).toThrow(RangeError);
    expect(() => runFig4({ n: 4, trials: 0, ratios: [1], seed: 1 })).toThrow(RangeError);
    expect(() => runFig4({ n: 4, trials: 1, ratios: [-1], seed: 1 })).toThrow(RangeError);
    expect(() => runFig4({ n: 4, trials: 1, ratios: [], seed: 1 })).toThrow(RangeError);
  });

  it('isIdentity and createWorld behave', () => {
    expect(isIdentity(Float64Array.from([1, 0, 0, 1]), 2)).toBe(true);
    expect(isIdentity(Float64Array.from([0.9, 0.1, 0, 1]), 2)).toBe(false);
    const w = createWorld(4, trialSeed(1, 0));
    expect(Array.from(w.stake)).toEqual([1, 1, 1, 1]);
    expect(w.ideal.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 12);
  });
});

describe('Fig 5 experiment (adaptive tau)', () => {
  it('starts at tau = 0, raises it, and settles the sparsity on the target', () => {
    const r = runFig5({ n: 16, seed: 1, target: 1 });
    const first = r.points[0]!;
    const last = r.points[r.points.length - 1]!;
    expect(first.tau).toBe(0);
    expect(first.measured).toBeLessThan(0.5);
    expect(Math.max(...r.points.map((p) => p.tau))).toBeGreaterThan(0);
    expect(Math.abs(last.measured - 1)).toBeLessThan(0.05);
    // the tail is settled: tau barely moves over the last 10% of steps
    const tail = r.points.slice(Math.floor(r.points.length * 0.9));
    const taus = tail.map((p) => p.tau);
    expect(Math.max(...taus) - Math.min(...taus)).toBeLessThan(0.01);
  }, 60_000); // heavy on a loaded 2-core CI box; never a timing assertion

  it('can drive eq 17 sparsity instead (its slope in tau is flatter: larger gains)', () => {
    const r = runFig5({
      n: 8,
      seed: 2,
      target: 0.5,
      measure: 'eq17',
      gain: 2e-4,
      proportionalGain: 2,
      steps: 16000,
    });
    const last = r.points[r.points.length - 1]!;
    expect(last.measured).toBe(last.sparsity);
    expect(Math.abs(last.sparsity - 0.5)).toBeLessThan(0.05);
  }, 60_000); // heavy on a loaded 2-core CI box; never a timing assertion

  it('rejects impossible targets', () => {
    expect(() => runFig5({ n: 4, seed: 1, target: 0 })).toThrow(RangeError);
    expect(() => runFig5({ n: 4, seed: 1, target: 2, measure: 'eq17' })).toThrow(RangeError);
  });
});

describe('svg helpers', () => {
  it('escapes XML and picks nice ticks', () => {
    expect(escapeXml('a<b & "c">')).toBe('a&lt;b &amp; &quot;c&quot;&gt;');
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6000000000000001, 0.8, 1].map((v) => v));
    expect(niceTicks(0, 16000)).toEqual([0, 5000, 10000, 15000]);
    expect(tickLabel(0.30000000000000004)).toBe('0.3');
    expect(tickLabel(15000)).toBe('15000');
    expect(dataRange([1, 1])).toEqual({ min: 0.9, max: 1.1 });
    expect(dataRange([Number.NaN])).toEqual({ min: 0, max: 1 });
  });
});
