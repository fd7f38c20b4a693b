import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/args.js';
import { initBackend } from '../src/backend.js';
import {
  type FidelityResult,
  fidelityTable,
  meanInterval,
  planFidelity,
  runFidelity,
} from '../src/fidelity.js';

describe('fidelity statistics', () => {
  it('mean and 95 % Student-t interval', () => {
    // mean 2, sd 1, k = 3: half width 4.303 / √3
    const c = meanInterval([1, 2, 3])!;
    expect(c.mean).toBe(2);
    expect(c.high - c.mean).toBeCloseTo(4.303 / Math.sqrt(3), 9);
    expect(c.mean - c.low).toBeCloseTo(4.303 / Math.sqrt(3), 9);
    expect(meanInterval([])).toBeNull();
    expect(meanInterval([0.5])!.high).toBe(Number.POSITIVE_INFINITY);
  });

  it('plans one run per seed × size, ablation on, and refuses per-run flags', () => {
    const plan = planFidelity('--seeds 1-3,7 --sizes 4,8 --steps 20 --out o'.split(' '), '/tmp');
    expect(plan.runs.map((r) => [r.peers, r.seed])).toEqual([
      [4, 1],
      [4, 2],
      [4, 3],
      [4, 7],
      [8, 1],
      [8, 2],
      [8, 3],
      [8, 7],
    ]);
    expect(plan.runs.every((r) => r.opts.ablate && r.opts.steps === 20)).toBe(true);
    expect(plan.runs[5]!.opts.out).toBe('/tmp/o/n8-s2');
    expect(() => planFidelity(['--peers', '4'], '/tmp')).toThrow(UsageError);
    expect(() => planFidelity(['--seeds', '3-1'], '/tmp')).toThrow(UsageError);
  });
});

// The CI grid: 2 seeds × 1 size of a tiny known-quality swarm (seconds). The full grid is in docs/results.
describe('pnpm swarm fidelity: a small seeded grid', () => {
  let dir: string;
  let result: FidelityResult;
  let files: string[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'swarm-fid-'));
    await initBackend();
    ({ result, files } = await runFidelity(
      '--seeds 1-2 --sizes 4 --steps 20 --block-steps 5 --eval-every 10 --eval-size 50 --quality views --ablation-draws 1 --quiet --out fid'.split(
        ' ',
      ),
      dir,
      () => undefined,
    ));
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes fidelity.json and the plot, and a table row per size with every Spearman in [-1, 1]', () => {
    expect(files.map((f) => f.slice(dir.length))).toEqual(['/fid/fidelity.json', '/fid/fidelity.svg']);
    const json = JSON.parse(readFileSync(files[0]!, 'utf8')) as FidelityResult;
    expect(json.runs).toHaveLength(2);
    expect(readFileSync(files[1]!, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n?$/);
    for (const r of result.runs)
      for (const k of ['knownOrder', 'ideal', 'rows', 'pairs'] as const) {
        const v = r.values[k];
        expect(v).not.toBeNull();
        expect(Math.abs(v!)).toBeLessThanOrEqual(1);
      }
    const row = result.table[0]!;
    expect(row.peers).toBe(4);
    expect(row.metrics.knownOrder?.count).toBe(2);
    // Self-weights are left out of R by default: no peer's rank comes from its own row.
    expect(row.metrics.ownRowShare?.mean).toBe(0);
    const table = fidelityTable(result);
    expect(table).toHaveLength(3);
    expect(table[2]).toMatch(/^\| 4 \| /);
  });
});
