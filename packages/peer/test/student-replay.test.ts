import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GStudent } from '../src/g-student.js';
import { StudentReplay } from '../src/student-replay.js';

// Rows of x are [row id, 0]; targets of slot s are [10·s + row id] (d = 1).
const xOf = (ids: number[]) => Float32Array.from(ids.flatMap((id) => [id, 0]));
const answer = (slot: number, rows: number[], ids: number[]) => ({
  slot,
  rows,
  data: Float32Array.from(rows.map((r) => 10 * slot + ids[r]!)),
});
const ids = (b: { rows: number; x: Float32Array }) => Array.from({ length: b.rows }, (_, i) => b.x[i * 2]!);

describe('StudentReplay (the student of G remembers answered rows)', () => {
  it('keeps only answered rows with their slots’ targets, returns every fresh row and a sample of older ones', () => {
    const r = new StudentReplay({ capacity: 8, inputSize: 2, width: 2, d: 1, seed: 1 });
    const batch1 = [1, 2, 3, 4];
    // Row 1 (id 2) answered by nobody: not kept.
    r.add(xOf(batch1), [answer(1, [0, 2], batch1), answer(2, [2, 3], batch1)]);
    expect(r.size).toBe(3);
    const first = r.batch(5)!;
    expect(ids(first).sort()).toEqual([1, 3, 4]);
    const at = (b: typeof first, id: number) => ids(b).indexOf(id);
    // id 3: both slots; id 1: slot 1 only; id 4: slot 2 only.
    expect(Array.from(first.weight.subarray(at(first, 3) * 2, at(first, 3) * 2 + 2))).toEqual([1, 1]);
    expect(Array.from(first.weight.subarray(at(first, 1) * 2, at(first, 1) * 2 + 2))).toEqual([1, 0]);
    expect(Array.from(first.target.subarray(at(first, 4) * 2, at(first, 4) * 2 + 2))).toEqual([0, 24]);
    expect(first.count).toBe(4);
    // Nothing new: no fit (the student never replays without fresh answers).
    expect(r.batch(5)).toBeNull();
    const batch2 = [5, 6];
    r.add(xOf(batch2), [answer(1, [0, 1], batch2)]);
    const second = r.batch(2)!;
    expect(second.rows).toBe(4);
    expect(ids(second).slice(0, 2).sort()).toEqual([5, 6]);
    const replayed = ids(second).slice(2);
    expect(new Set(replayed).size).toBe(2);
    for (const id of replayed) expect([1, 3, 4]).toContain(id);
  });

  it('holds at most its capacity (the newest overwrite the oldest) and draws the same rows for the same seed', () => {
    const draw = () => {
      const r = new StudentReplay({ capacity: 6, inputSize: 2, width: 1, d: 1, seed: 7 });
      const out: number[][] = [];
      for (let k = 0; k < 5; k++) {
        const batch = [3 * k, 3 * k + 1, 3 * k + 2];
        r.add(xOf(batch), [answer(1, [0, 1, 2], batch)]);
        out.push(ids(r.batch(4)!));
      }
      expect(r.size).toBe(6);
      return out;
    };
    const a = draw();
    expect(draw()).toEqual(a);
    // The last batch: its 3 fresh rows, then 3 older ones, all among the 6 newest (ids 9-14).
    expect(a[4]!.slice(0, 3).sort((x, y) => x - y)).toEqual([12, 13, 14]);
    for (const id of a[4]!.slice(3)) expect([9, 10, 11]).toContain(id);
  });

  it('forgets a dropped slot’s targets and keeps the other slots’', () => {
    const r = new StudentReplay({ capacity: 8, inputSize: 2, width: 2, d: 1, seed: 1 });
    const batch = [1, 2];
    r.add(xOf(batch), [answer(1, [0, 1], batch), answer(2, [0], batch)]);
    r.batch(0);
    r.drop(1);
    r.add(xOf([9]), [answer(2, [0], [9])]);
    const b = r.batch(8)!;
    expect(b.count).toBe(2); // slot 2 of ids 9 and 1; nothing of slot 1
    for (let i = 0; i < b.rows; i++) expect(b.weight[i * 2]).toBe(0);
  });

  it('rejects a capacity below one row', () => {
    expect(() => new StudentReplay({ capacity: 0, inputSize: 2, width: 1, d: 1 })).toThrow(RangeError);
  });
});

describe('the student of G with a replay memory', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('learns a neighbour from a stream of small batches better than with the fresh rows alone, with no tensor left behind', () => {
    // The neighbour's answer is a fixed smooth function of x; each fit gets 2 fresh rows.
    const INPUT = 4;
    const target = (x: number[]) => [Math.tanh(x[0]! - x[1]!), Math.tanh(x[2]! + 0.5 * x[3]!)];
    let state = 12345;
    const uniform = () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const rows = Array.from({ length: 400 }, () => Array.from({ length: INPUT }, () => uniform() * 2 - 1));
    const test = rows.slice(300);
    const run = (replayCapacity: number) => {
      const student = new GStudent({
        inputSize: INPUT,
        outputSize: 2,
        slots: 2,
        hidden: 16,
        learningRate: 0.01,
        minTrainingSteps: 1,
        replayCapacity,
        replayRows: 32,
        seed: 3,
      });
      let before = -1;
      for (let k = 0; k < 150; k++) {
        const fresh = [rows[(2 * k) % 300]!, rows[(2 * k + 1) % 300]!];
        student.remember(Float32Array.from(fresh.flat()), [
          { slot: 1, rows: [0, 1], data: Float32Array.from(fresh.flatMap(target)) },
        ]);
        student.fit()!.dispose();
        if (k === 0) before = tf.memory().numTensors;
      }
      expect(tf.memory().numTensors).toBe(before);
      const err = tf.tidy(() => {
        const p = student.predict(1, tf.tensor2d(test.flat(), [test.length, INPUT]));
        return tf
          .mean(tf.square(tf.sub(p, tf.tensor2d(test.flatMap(target), [test.length, 2]))))
          .dataSync()[0]!;
      });
      student.dispose();
      return err;
    };
    const alone = run(0);
    const replayed = run(256);
    expect(replayed).toBeLessThan(alone * 0.7);
  });
});
