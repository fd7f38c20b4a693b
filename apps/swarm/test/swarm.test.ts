import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { main } from '../src/cli.js';
import type { SwarmRecord } from '../src/record.js';

// One small real swarm shared by the assertions: 4 real Peers of graded
// quality + 1 noise endpoint, tens of steps of real tfjs/WASM training, the
// real ledger embedded. Skew 0.5 (not the experiments' 0.8): with 80 % of a
// shard on two digits, a model first learns that prior, and on the balanced
// held-out set that alone raises its loss above the untrained ln 10 for the
// first tens of steps; at 0.5 the prior is no worse than uniform, so B falls
// as soon as the peers learn anything.
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
        '--peers 4 --steps 40 --k 2 --embedded --seed 3 --shard-sizes 60,120,240,480 --skew 0.5 --eval-every 20 ' +
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
    expect(record.version).toBe(2);
    expect(record.transport).toMatch(/^memory/);
    expect(record.chain).toMatch(/BlockProducer/);
    expect(record.participants.map((p) => p.kind)).toEqual(['honest', 'honest', 'honest', 'honest', 'noise']);
    expect(record.steps).toHaveLength(41); // step 0 (before training) + 40
    const last = record.steps[record.steps.length - 1]!;
    expect(last.trainLoss).toHaveLength(5);
    expect(last.trainLoss[4]).toBeNull(); // the noise peer has no task
    expect(last.heldOutLoss?.slice(0, 4).every((l) => typeof l === 'number' && l > 0)).toBe(true);
    expect(typeof last.B).toBe('number');
    expect(record.blocks).toHaveLength(8);
    const b = record.blocks[7]!;
    expect(b.S).toHaveLength(5);
    expect(b.R).toHaveLength(5);
    expect(b.W).toHaveLength(5);
    for (const row of b.W) expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 6);
    expect(b.tau).toBeGreaterThan(0);
    expect(record.ablation?.ideal).toHaveLength(5);
    // Every trainer was evaluated with each participant (itself included) ablated.
    for (const i of [0, 1, 2, 3])
      expect(record.ablation?.delta[i]?.every((d) => typeof d === 'number' && Number.isFinite(d))).toBe(true);
    expect(record.ablation?.delta[4]?.every((d) => d === null)).toBe(true);
    expect(record.summary.networkShare).toBeGreaterThan(0);
    expect(record.summary.networkShare).toBeLessThan(1);
    // The ideal is per pair: 4 evaluators × the 4 other running participants (the noise peer included).
    expect(record.ablation?.pairs).toBe(16);
    expect(record.ablation?.masks).toBe('held at 0.5');
    // Fidelity that could fail: R orders the participants like the ideal does (the noise peer last in both).
    expect(record.ablation?.spearman).toBeGreaterThan(0);
    // Self-weights are left out of R by default: no rank comes from a peer's own row.
    expect(record.blocks[7]!.ownRowShare.slice(0, 4)).toEqual([0, 0, 0, 0]);
    for (const f of ['loss-B.svg', 'rank.svg', 'weights.svg'])
      expect(readFileSync(join(dir, 'run', f), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n?$/);
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

  it('leaves no tensor behind: 40 steps, 8 blocks, evaluations and ablation are all disposed', () => {
    // Every Peer's model, optimiser state, stand-ins and every step's tensors are freed by stop().
    expect(tensorsAfter).toBe(tensorsBefore);
  });
});
