import { InMemoryHub } from '@peerbench/mesh';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ExpertServer } from '../src/expert-server.js';
import { Peer } from '../src/peer.js';
import { Trainer } from '../src/trainer.js';
import { DEFAULT_STEP_OPTIONS } from '../src/trainer-options.js';
import { SMALL_MODEL, skewedTask, useWasm } from './helpers.js';

beforeAll(useWasm);

describe('tensor memory', () => {
  it('1,000 training steps leave tf.memory().numTensors flat (WASM)', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const trainer = new Trainer(await skewedTask([1, 2], 1, 100), 'solo', null, SMALL_MODEL, {
      ...DEFAULT_STEP_OPTIONS,
      batchSize: 4,
    });
    for (let s = 0; s < 10; s++) await trainer.step();
    await trainer.evaluate();
    const base = tf.memory().numTensors;
    for (let s = 0; s < 1000; s++) await trainer.step();
    await trainer.evaluate();
    expect(tf.memory().numTensors).toBe(base);
    trainer.dispose();
  }, 180_000);

  it('steps with remote experts, backward and stand-ins leave it flat too', async () => {
    const hub = new InMemoryHub();
    const trainers: Trainer[] = [];
    for (let i = 0; i < 3; i++) {
      const net = hub.join(`m${i}`);
      const t = new Trainer(
        await skewedTask([i], i + 1, 100),
        `m${i}`,
        net,
        { ...SMALL_MODEL, topK: 3 },
        {
          ...DEFAULT_STEP_OPTIONS,
          batchSize: 4,
          kMin: 2,
        },
      );
      net.serve(new ExpertServer(t.encoder, () => 0.5));
      trainers.push(t);
    }
    for (let s = 0; s < 10; s++) await Promise.all(trainers.map((t) => t.step()));
    await new Promise((r) => setTimeout(r, 10));
    const base = tf.memory().numTensors;
    for (let s = 0; s < 100; s++) {
      // Every asynchronous readback path in the loop (issue 19): the step's packed read, the
      // served forwards, and, interleaved with the steps, export, evaluation and live evaluation.
      const extra: Promise<unknown>[] =
        s % 25 === 0
          ? [trainers[0]!.exportWeights(), trainers[1]!.evaluate(), trainers[2]!.evaluateLive()]
          : [];
      await Promise.all([...trainers.map((t) => t.step()), ...extra]);
    }
    await vi.waitFor(() => expect(tf.memory().numTensors).toBe(base));
    for (const t of trainers) t.dispose();
  }, 180_000);

  it('a Peer that starts, trains, serves and stops gives back every tensor it made (model init included)', async () => {
    const task = await skewedTask([3, 4], 7, 100);
    const hub = new InMemoryHub();
    // Warm-up peer: the first use of a kernel may allocate backend state once.
    const warm = await Peer.create({
      task,
      backend: false,
      model: SMALL_MODEL,
      autoRun: false,
      network: hub.join('w'),
    });
    await warm.start();
    await warm.step();
    await warm.stop();
    const base = tf.memory().numTensors;
    for (let round = 0; round < 3; round++) {
      const a = await Peer.create({
        task,
        backend: false,
        model: SMALL_MODEL,
        autoRun: false,
        network: hub.join(`a${round}`),
      });
      const b = await Peer.create({
        task,
        backend: false,
        model: SMALL_MODEL,
        autoRun: false,
        network: hub.join(`b${round}`),
      });
      await a.start();
      await b.start();
      for (let s = 0; s < 5; s++) await Promise.all([a.step(), b.step()]);
      await a.evaluateLive();
      await a.stop();
      await b.stop();
    }
    expect(tf.memory().numTensors).toBe(base);
  }, 180_000);
});
