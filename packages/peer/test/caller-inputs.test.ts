import type { ExpertNetwork } from '@peerbench/mesh';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CallerInputs } from '../src/caller-inputs.js';
import { ExpertServer } from '../src/expert-server.js';
import type { Batch } from '../src/task.js';
import type { Trainer } from '../src/trainer.js';
import { trainerSwarm, useWasm } from './helpers.js';

beforeAll(useWasm);
vi.setConfig({ testTimeout: 180_000 });

/** `rows` rows of width `w`, row r filled with the value `first + r`. */
const rowsOf = (rows: number, w: number, first: number) =>
  Float32Array.from({ length: rows * w }, (_, i) => first + Math.floor(i / w));

/** A 4 → 2 linear served function with all weights 1. */
function linearServed() {
  const w = tf.variable(tf.ones([4, 2]));
  const served = {
    inputSize: 4,
    outputSize: 2,
    apply: (x: tf.Tensor2D) => tf.matMul(x, w) as tf.Tensor2D,
    variables: () => [w],
  };
  return { w, served };
}

describe('CallerInputs: the bounded ring of callers’ training inputs', () => {
  it('keeps at most rowsPerCaller rows per caller (newest), at most maxCallers callers, and refuses malformed rows', () => {
    const buf = new CallerInputs(3, 4, 2);
    buf.add('a', rowsOf(3, 3, 0), 3);
    buf.add('a', rowsOf(3, 3, 10), 3); // ring of 4: rows 2, 10, 11, 12 remain
    expect(buf.rows).toBe(4);
    buf.add('b', rowsOf(1, 3, 100), 1);
    buf.add('a', rowsOf(1, 3, 20), 1); // 'a' heard from last: 'b' is now the oldest
    buf.add('c', rowsOf(2, 3, 200), 2); // a third caller drops 'b'
    expect(buf.callers).toBe(2);
    expect(buf.rows).toBe(6);
    buf.add('d', rowsOf(2, 3, 0).subarray(1), 2); // wrong length
    buf.add('d', Float32Array.of(1, Number.NaN, 3), 1); // not finite
    expect(buf.rejected).toBe(3);
    expect(buf.callers).toBe(2);
    // Round-robin over callers ('a' then 'c'), each in ring order.
    const taken = buf.take(5)!;
    expect(taken.rows).toBe(5);
    const firsts = Array.from({ length: 5 }, (_, r) => taken.x[r * 3]);
    expect(firsts).toEqual([11, 200, 12, 201, 20]);
    expect(new CallerInputs(3).take(4)).toBeNull();
  });

  it('the expert keeps a caller’s input only when it accepts that caller’s backward (evaluation forwards and refused backwards are never kept)', async () => {
    const { w, served } = linearServed();
    const buf = new CallerInputs(4);
    const server = new ExpertServer(
      served,
      () => 1,
      {
        acceptRemoteGradients: true,
        remoteGradMaxNorm: 1,
        remoteLearningRate: 0.01,
        savedInputTtlMs: 10_000,
        maxSavedInputs: 64,
        maxBackwardsPerCallerPerBlock: 1,
      },
      undefined,
      undefined,
      buf,
    );
    const x = { shape: [2, 4], data: rowsOf(2, 4, 1) };
    const grad = { shape: [2, 2], data: new Float32Array(4) };
    await server.forward('evaluator', 'e1', x); // no backward follows: an evaluation
    expect(buf.rows).toBe(0);
    await server.forward('caller', 'r1', x);
    await server.backward('caller', 'r1', grad);
    expect(buf.rows).toBe(2);
    await server.forward('caller', 'r2', x);
    await expect(server.backward('caller', 'r2', grad)).rejects.toMatchObject({ code: 'rejected' });
    expect(buf.rows).toBe(2);
    server.dispose();
    w.dispose();
  });

  it('SGD at rate 0 accepts a backward and keeps its input but moves no weight (the chain control "frozen")', async () => {
    const { w, served } = linearServed();
    const buf = new CallerInputs(4);
    const opts = {
      acceptRemoteGradients: true,
      remoteGradMaxNorm: 1,
      remoteOptimizer: 'sgd' as const,
      remoteLearningRate: 0,
      savedInputTtlMs: 10_000,
      maxSavedInputs: 64,
    };
    const server = new ExpertServer(served, () => 1, opts, undefined, undefined, buf);
    await server.forward('caller', 'r1', { shape: [2, 4], data: rowsOf(2, 4, 1) });
    await server.backward('caller', 'r1', { shape: [2, 2], data: Float32Array.of(1, -1, 0.5, 2) });
    expect(server.stats.backwardsApplied).toBe(1);
    expect(buf.rows).toBe(2);
    expect(Array.from(w.dataSync())).toEqual(Array(8).fill(1));
    server.dispose();
    w.dispose();
  });
});

/** Relative L2 error of `trainer`'s student block for `slot` against `expert`'s real answer, on `data`. */
async function studentError(trainer: Trainer, slot: number, expert: Trainer, data: Batch): Promise<number> {
  const err = tf.tidy(() => {
    const x = tf.tensor2d(data.x, [data.size, expert.task.inputSize]);
    const real = expert.represent(x).f;
    return tf.div(tf.norm(tf.sub(trainer.standIns.predict(slot, x), real)), tf.norm(real));
  });
  const [v] = await err.data();
  err.dispose();
  return v!;
}

/** The rows of `batch` whose label is in `digits`. */
function ofDigits(batch: Batch, digits: number[]): Batch {
  const keep = [...Array(batch.size).keys()].filter((r) =>
    digits.includes(batch.y.subarray(r * 10, (r + 1) * 10).indexOf(1)),
  );
  const x = new Float32Array(keep.length * 784);
  keep.forEach((r, i) => {
    x.set(batch.x.subarray(r * 784, (r + 1) * 784), i * 784);
  });
  return { x, y: new Float32Array(keep.length * 10), size: keep.length };
}

describe('distillation queries (issue 16)', () => {
  const rounds = async (peers: { trainer: Trainer }[], n: number) => {
    for (let s = 0; s < n; s++)
      for (const p of peers) {
        await p.trainer.step();
        await p.trainer.settleBackwards();
      }
  };

  it('are sent only in the peer’s own step (an answer never calls the network), bounded per step, and keep numTensors flat', async () => {
    const { peers } = await trainerSwarm(3, { model: { callerDistillRows: 8 } });
    // Every network call made while some expert is answering a forward is a violation.
    let answering = 0;
    let callsWhileAnswering = 0;
    for (const p of peers) {
      const forward = p.server.forward.bind(p.server);
      p.server.forward = async (...args) => {
        answering++;
        try {
          return await forward(...args);
        } finally {
          answering--;
        }
      };
      const net = p.net as ExpertNetwork;
      const send = net.forward.bind(net);
      net.forward = (...args) => {
        if (answering > 0) callsWhileAnswering++;
        return send(...args);
      };
    }
    await rounds(peers, 6);
    const before = tf.memory().numTensors;
    await rounds(peers, 30);
    expect(tf.memory().numTensors).toBe(before);
    const t0 = peers[0]!.trainer;
    const stats = t0.distillation.stats;
    expect(stats.rounds).toBeGreaterThan(0);
    // At most 8 rows to each of the 2 neighbours per distillation step (every step here).
    expect(stats.rowsSent).toBeLessThanOrEqual(8 * 2 * stats.rounds);
    expect(stats.answers).toBeGreaterThan(0);
    expect(stats.lastLoss).not.toBeNull();
    expect(callsWhileAnswering).toBe(0);
    for (const p of peers) {
      p.server.dispose();
      p.trainer.dispose();
    }
  });

  it('teach the student a neighbour on the inputs callers send: p0’s picture of p1 on p2’s digits is better with them than without', async () => {
    const errors: number[] = [];
    for (const rows of [0, 16]) {
      // Nothing here may depend on the machine's speed: deadlines far beyond any load (a late
      // answer would be left out), and a backward budget no run spends (without blocks it
      // refills by wall time, so a fast machine was refused more backwards than a slow one).
      const step = { graceMs: 60_000, forwardTimeoutMs: 60_000, backwardTimeoutMs: 60_000 };
      const server = { maxBackwardsPerCallerPerBlock: 1_000_000, savedInputTtlMs: 600_000 };
      const { peers } = await trainerSwarm(3, { model: { callerDistillRows: rows }, step, server });
      await rounds(peers, 40);
      const [p0, p1, p2] = peers.map((p) => p.trainer) as [Trainer, Trainer, Trainer];
      // p2's digits (6-8), held out: p0's own batches hold almost none of them; p2's training batches do.
      errors.push(await studentError(p0, p0.slots.indexOf('p1'), p1, ofDigits(p2.task.evalSet(), [6, 7, 8])));
      for (const p of peers) {
        p.server.dispose();
        p.trainer.dispose();
      }
    }
    // Measured 0.633 with vs 0.762 without (40 rounds, seeded, replay memory on; 0.665 vs 0.773 before it).
    console.info(
      `student's error on p2's digits: ${errors[0]!.toFixed(4)} without queries, ${errors[1]!.toFixed(4)} with`,
    );
    expect(errors[1]!).toBeLessThan(errors[0]! * 0.9);
  });
});
