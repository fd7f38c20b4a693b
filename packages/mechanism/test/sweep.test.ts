import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchNashSolver, STOPPING_NORMS } from '../src/batch.js';
import { main } from '../src/cli.js';
import {
  createWorld,
  DEFAULT_SETTINGS,
  gradeHessians,
  idealRank,
  NashSolver,
  pearson,
  projectToSimplexPivot,
  referenceMask,
  runFig4,
  spearman,
  trialSeed,
} from '../src/index.js';
import { projectFromSupport } from '../src/simplex.js';
import { runFig4Sweep } from '../src/sweep.js';

const tmp = mkdtempSync(join(tmpdir(), 'mechanism-sweep-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('BatchNashSolver', () => {
  it.each(
    STOPPING_NORMS.flatMap((norm) => (['wasm', 'js'] as const).map((kernel) => [norm, kernel] as const)),
  )('gives every lane the bits of a single-trial solve (stop norm %s, %s kernel)', (norm, kernel) => {
    const n = 7;
    const ratios = [1, 10, 25, 50, 3];
    const world = createWorld(n, trialSeed(5, 2));
    const ref = referenceMask(world, DEFAULT_SETTINGS);
    const options = { lambda: 0.005, epsilon: 1e-4, maxSteps: 3000, stoppingNorm: norm };
    const lanes = new BatchNashSolver(n, ratios.length, kernel).solve(
      { ...world, referenceMask: ref, temperature: 2 },
      ratios.map((alpha) => ({ alpha, tau: 1 })),
      options,
    );
    const solver = new NashSolver(n);
    ratios.forEach((alpha, l) => {
      const single = solver.solve(
        {
          n,
          alpha,
          tau: 1,
          temperature: 2,
          stake: world.stake,
          hessians: world.hessians,
          referenceMask: ref,
        },
        world.W0,
        options,
      );
      expect(lanes[l]!.steps).toBe(single.steps);
      expect(lanes[l]!.converged).toBe(single.converged);
      expect(Buffer.from(lanes[l]!.W.buffer).equals(Buffer.from(single.W.buffer))).toBe(true);
    });
    // lanes stop at different steps: ratio 1 reaches W = I first
    expect(new Set(lanes.map((r) => r.steps)).size).toBeGreaterThan(1);
  });

  it('rejects bad input', () => {
    const world = createWorld(4, 1);
    const w = { ...world, referenceMask: new Float64Array(16).fill(1), temperature: 2 };
    const opts = { lambda: 0.005, epsilon: 1e-4, maxSteps: 10, stoppingNorm: 'row' as const };
    expect(() => new BatchNashSolver(4, 2).solve(w, [], opts)).toThrow(RangeError);
    expect(() =>
      new BatchNashSolver(4, 1).solve(
        w,
        [
          { alpha: 1, tau: 1 },
          { alpha: 2, tau: 1 },
        ],
        opts,
      ),
    ).toThrow(RangeError);
    expect(() => new BatchNashSolver(5, 1).solve(w, [{ alpha: 1, tau: 1 }], opts)).toThrow(RangeError);
    expect(() => new BatchNashSolver(4, 1).solve(w, [{ alpha: Number.NaN, tau: 1 }], opts)).toThrow(
      RangeError,
    );
    expect(() => new BatchNashSolver(4, 1).solve(w, [{ alpha: 1, tau: 1 }], { ...opts, lambda: 0 })).toThrow(
      RangeError,
    );
  });
});

describe('projectFromSupport', () => {
  it('equals Michelot pivoting bit for bit, whether or not the support guess holds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.array(fc.double({ min: -0.05, max: 0.05, noNaN: true }), { minLength: 12, maxLength: 12 }),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        (n, noise, inSupport) => {
          // W: a point of the simplex with the given support (at least one entry)
          const W = new Float64Array(n);
          let count = 0;
          for (let j = 0; j < n; j++) if (inSupport[j] || j === 0) count++;
          for (let j = 0; j < n; j++) W[j] = inSupport[j] || j === 0 ? 1 / count : 0;
          const row = Float64Array.from({ length: n }, (_, j) => W[j]! + noise[j]!);
          const a = new Float64Array(n);
          const b = new Float64Array(n);
          projectFromSupport(row, W, 0, a, n);
          projectToSimplexPivot(row, b, n);
          expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('runFig4Sweep', () => {
  const options = { n: 6, trials: 3, ratios: [1, 10, 50], seed: 4 };

  it('gives the same result bit for bit with 0, 1 or 2 workers, and the same as the single-trial path', async () => {
    const single = JSON.stringify(runFig4(options));
    const inThread = JSON.stringify(await runFig4Sweep({ ...options, workers: 0 }));
    const one = JSON.stringify(await runFig4Sweep({ ...options, workers: 1 }));
    const two = JSON.stringify(await runFig4Sweep({ ...options, workers: 2 }));
    const twoByLane = JSON.stringify(await runFig4Sweep({ ...options, workers: 2, jobs: 'lane' }));
    expect(inThread).toBe(single);
    expect(twoByLane).toBe(single);
    expect(one).toBe(single);
    expect(two).toBe(single);
  }, 60_000);

  it('reports every (ratio, trial) once', async () => {
    const seen: string[] = [];
    await runFig4Sweep({ ...options, workers: 2, onLaneDone: (ratio, t) => seen.push(`${ratio}/${t}`) });
    expect(seen.sort()).toEqual(options.ratios.flatMap((r) => [0, 1, 2].map((t) => `${r}/${t}`)).sort());
  }, 60_000);

  it('rejects a bad worker count', async () => {
    await expect(runFig4Sweep({ ...options, workers: -1 })).rejects.toThrow(RangeError);
  });

  it('`pnpm sim fig4` writes the same bytes with --workers 1 and --workers 2', async () => {
    const io = { stdout: () => {}, stderr: () => {}, cwd: tmp };
    const args = [
      'fig4',
      '--n',
      '6',
      '--trials',
      '3',
      '--ratios',
      '1,25',
      '--seed',
      '9',
      '--world',
      'graded',
    ];
    expect(await main([...args, '--workers', '1', '--out', 'w1'], io)).toBe(0);
    expect(await main([...args, '--workers', '2', '--out', 'w2'], io)).toBe(0);
    for (const file of ['fig4-graded.json', 'fig4-graded.svg']) {
      expect(readFileSync(join(tmp, 'w2', file)).equals(readFileSync(join(tmp, 'w1', file)))).toBe(true);
    }
  }, 60_000);
});

describe('graded world (README reading 12)', () => {
  it('scales peer j by q_j in every Hessian: symmetric, PSD, unit trace, ideal rank ordered by quality', () => {
    const n = 12;
    const iid = createWorld(n, trialSeed(1, 0));
    const graded = createWorld(n, trialSeed(1, 0), 1, 'graded');
    expect(Array.from(graded.W0)).toEqual(Array.from(iid.W0)); // same draws, then graded
    expect(Array.from(iid.quality)).toEqual(new Array(n).fill(1));
    for (const q of graded.quality) {
      expect(q).toBeGreaterThanOrEqual(0.5);
      expect(q).toBeLessThanOrEqual(2);
    }
    const nn = n * n;
    const rng = fc.sample(fc.double({ min: -1, max: 1, noNaN: true }), n * 5);
    for (let i = 0; i < n; i++) {
      let trace = 0;
      for (let a = 0; a < n; a++) {
        trace += graded.hessians[i * nn + a * n + a]!;
        for (let b = 0; b < n; b++)
          expect(graded.hessians[i * nn + a * n + b]).toBe(graded.hessians[i * nn + b * n + a]);
      }
      expect(trace).toBeCloseTo(1, 12);
      for (let v = 0; v < 5; v++) {
        const x = rng.slice(v * n, v * n + n);
        let quad = 0;
        for (let a = 0; a < n; a++)
          for (let b = 0; b < n; b++) quad += x[a]! * graded.hessians[i * nn + a * n + b]! * x[b]!;
        expect(quad).toBeGreaterThanOrEqual(-1e-12);
      }
    }
    // the ideal rank follows the quality (q² times an i.i.d. ~8 % spread)
    expect(spearman(graded.ideal, graded.quality)).toBeGreaterThan(0.8);
    expect(Math.abs(spearman(iid.ideal, graded.quality))).toBeLessThan(0.8);
    expect(Array.from(idealRank(graded.hessians, n))).toEqual(Array.from(graded.ideal));
  });

  it('gradeHessians with q = 1 only renormalises, and rejects bad factors', () => {
    const n = 4;
    const w = createWorld(n, 3);
    const copy = Float64Array.from(w.hessians);
    gradeHessians(copy, new Float64Array(n).fill(1), n);
    for (let k = 0; k < copy.length; k++) expect(copy[k]).toBeCloseTo(w.hessians[k]!, 14);
    expect(() => gradeHessians(copy, Float64Array.from([1, 1, 0, 1]), n)).toThrow(RangeError);
    expect(() => gradeHessians(copy, new Float64Array(3).fill(1), n)).toThrow(RangeError);
  });

  it('makes the competitive rank track the ideal rank (n = 16, alpha/tau = 10)', async () => {
    const settings = { ...DEFAULT_SETTINGS, world: 'graded' as const };
    const iid = await runFig4Sweep({ n: 16, trials: 3, ratios: [10], seed: 1, workers: 2 });
    const graded = await runFig4Sweep({ n: 16, trials: 3, ratios: [10], seed: 1, settings, workers: 2 });
    expect(graded.ratios[0]!.pearson.mean!).toBeGreaterThan(0.7);
    expect(graded.ratios[0]!.pearson.mean!).toBeGreaterThan(iid.ratios[0]!.pearson.mean! + 0.2);
    const t = graded.ratios[0]!.trials[0]!;
    expect(pearson(t.rStar, t.ideal)).toBeCloseTo(t.pearson!, 12);
  }, 120_000); // heavy on a loaded 2-core CI box; never a timing assertion
});
