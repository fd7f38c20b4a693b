import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CallerBudget } from '../src/caller-budget.js';
import { ExpertServer, type ExpertServerOptions } from '../src/expert-server.js';
import { Mlp } from '../src/model.js';
import { Trainer } from '../src/trainer.js';
import { DEFAULT_STEP_OPTIONS } from '../src/trainer-options.js';
import { SMALL_MODEL, skewedTask, useWasm } from './helpers.js';

beforeAll(useWasm);
vi.setConfig({ testTimeout: 120_000 });

const input = (rows: number, seed = 0) => ({
  shape: [rows, 8],
  data: Float32Array.from({ length: rows * 8 }, (_, i) => ((i * 7 + seed) % 11) / 11),
});

describe('CallerBudget', () => {
  const limits = {
    maxSavedInputs: 100,
    maxSavedInputBytes: 1 << 30,
    maxSavedInputsPerCaller: 4,
    maxSavedInputBytesPerCaller: 1 << 30,
    maxBackwardsPerCallerPerBlock: 2,
    budgetWindowMs: 1000,
  };
  const saved = (n: number) => ({
    x: new Float32Array(n),
    rows: 1,
    mask: 1,
    expiresAt: Number.POSITIVE_INFINITY,
  });

  it("one caller's flood evicts its own inputs, never another caller's", () => {
    const b = new CallerBudget(limits, () => 0);
    b.save('honest', 'h1', saved(8));
    for (let i = 0; i < 256; i++) b.save('flooder', `f${i}`, saved(8));
    expect(b.savedInputsOf('flooder')).toBe(4);
    expect(b.take('honest', 'h1')).toBeDefined();
    expect(b.take('flooder', 'f0')).toBeUndefined();
    expect(b.take('flooder', 'f255')).toBeDefined();
  });

  it('the total cap drops from the caller holding the most', () => {
    const b = new CallerBudget({ ...limits, maxSavedInputs: 5, maxSavedInputsPerCaller: 10 }, () => 0);
    b.save('honest', 'h1', saved(8));
    for (let i = 0; i < 10; i++) b.save('flooder', `f${i}`, saved(8));
    expect(b.savedInputs).toBe(5);
    expect(b.savedInputsOf('honest')).toBe(1);
  });

  it('counts backward steps per caller per block; a block, or the window without blocks, refills them', () => {
    let now = 0;
    const b = new CallerBudget(limits, () => now);
    expect([b.tryBackward('a'), b.tryBackward('a'), b.tryBackward('a')]).toEqual([true, true, false]);
    expect(b.tryBackward('b')).toBe(true);
    b.newBlock();
    expect(b.tryBackward('a')).toBe(true);
    b.tryBackward('a');
    expect(b.tryBackward('a')).toBe(false);
    now = 999;
    expect(b.tryBackward('a')).toBe(false);
    now = 1000;
    expect(b.tryBackward('a')).toBe(true);
  });
});

describe('ExpertServer: a caller cannot escape its bound', () => {
  it('refuses backward from callers the ledger gives no stake, accepts staked ones', async () => {
    const enc = new Mlp('enc', { sizes: [8, 4], activations: ['tanh'] }, 1, 'stake-test');
    const server = new ExpertServer(
      enc,
      () => 1,
      undefined,
      undefined,
      (caller) => (caller === 'staked' ? 1 : 0),
    );
    for (const caller of ['staked', 'sybil']) {
      const out = await server.forward(caller, 'r1', input(2));
      const grad = { shape: out.shape, data: out.data.map(() => 0.1) };
      if (caller === 'staked') await server.backward(caller, 'r1', grad);
      else await expect(server.backward(caller, 'r1', grad)).rejects.toMatchObject({ code: 'rejected' });
    }
    expect(server.stats).toMatchObject({ backwardsApplied: 1, backwardsRefused: 1 });
    server.dispose();
    enc.dispose();
  });

  it('scales the update, not the gradient, by the caller’s mask', async () => {
    const moved = async (mask: number) => {
      const enc = new Mlp('enc', { sizes: [8, 4], activations: ['tanh'] }, 1, `mask-${mask}`);
      const w0 = enc.variables().map((v) => v.dataSync().slice());
      const server = new ExpertServer(enc, () => mask);
      const out = await server.forward('c', 'r', input(3));
      // Adam normalises the gradient to a full step (×M on the gradient changes nothing).
      await server.backward('c', 'r', { shape: out.shape, data: out.data.map(() => 1e-2) });
      let sq = 0;
      enc.variables().forEach((v, i) => {
        const now = v.dataSync();
        for (let k = 0; k < now.length; k++) sq += (now[k]! - w0[i]![k]!) ** 2;
      });
      server.dispose();
      enc.dispose();
      return Math.sqrt(sq);
    };
    const full = await moved(1);
    const quarter = await moved(0.25);
    expect(full).toBeGreaterThan(0);
    expect(quarter / full).toBeCloseTo(0.25, 2);
  });

  it('1,000 malicious backward calls move an honest expert’s held-out loss by less than 5 % (and would, unbounded)', async () => {
    const attack = async (opts: Partial<ExpertServerOptions>) => {
      const task = await skewedTask([0, 1, 2], 3, 200);
      const trainer = new Trainer(
        task,
        'victim',
        null,
        { ...SMALL_MODEL, seed: 3 },
        {
          ...DEFAULT_STEP_OPTIONS,
          batchSize: 16,
        },
      );
      for (let i = 0; i < 120; i++) await trainer.step();
      const before = (await trainer.evaluate()).loss;
      const clock = 0; // the whole attack happens within one block
      const server = new ExpertServer(
        trainer.encoder,
        () => 1,
        { ...(await import('../src/expert-server.js')).DEFAULT_EXPERT_SERVER_OPTIONS, ...opts },
        () => clock,
      );
      const x = { shape: [16, task.inputSize], data: task.nextBatch(16).x.slice(0, 16 * task.inputSize) };
      for (let i = 0; i < 1000; i++) {
        const out = await server.forward('attacker', `r${i}`, x);
        // Push every output further out (saturate), at a norm Adam ignores.
        const grad = { shape: out.shape, data: out.data.map((v) => -Math.sign(v) * 1e-6) };
        await server.backward('attacker', `r${i}`, grad).catch(() => undefined);
      }
      const after = (await trainer.evaluate()).loss;
      const applied = server.stats.backwardsApplied;
      server.dispose();
      trainer.dispose();
      return { rise: (after - before) / before, applied };
    };
    const bounded = await attack({});
    expect(bounded.applied).toBe(16);
    expect(bounded.rise).toBeLessThan(0.05);
    // Control: the same attack without the per-block budget does real damage,
    // so the bound above is what protects the expert.
    const unbounded = await attack({ maxBackwardsPerCallerPerBlock: 1_000_000 });
    expect(unbounded.applied).toBe(1000);
    expect(unbounded.rise).toBeGreaterThan(0.05);
    expect(tf.memory().numTensors).toBeLessThan(5000);
  });
});
