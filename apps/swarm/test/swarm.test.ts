import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { main } from '../src/cli.js';
import type { SwarmRecord } from '../src/record.js';

// One small real swarm (4 honest peers of graded quality + 1 noise peer, tens
// of steps, real tfjs/WASM training, in-process chain) shared by the assertions.
describe('swarm run: 4 peers + 1 noise peer', () => {
  let dir: string;
  let record: SwarmRecord;
  let tensorsBefore: number;
  let tensorsAfter: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'swarm-test-'));
    await initBackend();
    tensorsBefore = tf.memory().numTensors;
    const code = await main(
      (
        '--peers 4 --steps 60 --k 2 --embedded --seed 3 --shard-sizes 60,120,240,480 --eval-every 20 ' +
        '--eval-size 200 --block-steps 5 --lr 0.003 --adversary noise:1 --ablate --quiet --out run'
      ).split(' '),
      dir,
    );
    expect(code).toBe(0);
    record = JSON.parse(readFileSync(join(dir, 'run', 'swarm.json'), 'utf8')) as SwarmRecord;
    tensorsAfter = tf.memory().numTensors;
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes swarm.json with the documented fields and the three plots', () => {
    expect(record.version).toBe(1);
    expect(record.participants.map((p) => p.kind)).toEqual(['honest', 'honest', 'honest', 'honest', 'noise']);
    expect(record.steps).toHaveLength(61); // step 0 (before training) + 60
    const last = record.steps[record.steps.length - 1]!;
    expect(last.trainLoss).toHaveLength(5);
    expect(last.trainLoss[4]).toBeNull(); // the noise peer has no task
    expect(last.heldOutLoss?.slice(0, 4).every((l) => typeof l === 'number' && l > 0)).toBe(true);
    expect(typeof last.B).toBe('number');
    expect(record.blocks).toHaveLength(12);
    const b = record.blocks[11]!;
    expect(b.S).toHaveLength(5);
    expect(b.R).toHaveLength(5);
    expect(b.W).toHaveLength(5);
    for (const row of b.W) expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 6);
    expect(b.tau).toBeGreaterThan(0);
    expect(record.ablation?.ideal).toHaveLength(5);
    expect(record.ablation?.spearman === null || Math.abs(record.ablation!.spearman) <= 1).toBe(true);
    for (const f of ['loss-B.svg', 'rank.svg', 'weights.svg'])
      expect(readFileSync(join(dir, 'run', f), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>$/);
    expect(record.summary.failedSteps).toBe(0);
    expect(record.summary.nonFiniteLosses).toBe(0);
  });

  it('B (sum of held-out losses) decreases', () => {
    expect(record.summary.firstB).not.toBeNull();
    expect(record.summary.lastB!).toBeLessThan(record.summary.firstB!);
  });

  it('the noise peer ends with the lowest ledger rank', () => {
    const R = record.blocks[record.blocks.length - 1]!.R;
    expect(Math.min(...R.slice(0, 4))).toBeGreaterThan(R[4]!);
    expect(record.summary.noise?.rankBelowHonestFromBlock).not.toBeNull();
  });

  it('leaves no tensor behind: 60 steps, 12 blocks, evaluations and ablation are all disposed', () => {
    expect(tensorsAfter).toBe(tensorsBefore);
  });
});
