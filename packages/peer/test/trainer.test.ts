import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { StepOptions } from '../src/trainer-options.js';
import { trainerSwarm, useWasm } from './helpers.js';

beforeAll(useWasm);
// The machine may be shared; these steps are real tfjs work.
vi.setConfig({ testTimeout: 60_000 });

/** `n` trainers on one hub, each serving its encoder; slot 1.. are the others. */
const swarm = (n: number, step: Partial<StepOptions> = {}, acceptRemoteGradients = true) =>
  trainerSwarm(n, { step, acceptRemoteGradients });

describe('trainer step over the in-memory network', () => {
  it('ignores and counts NaN answers, wrong shapes and late answers; the step still completes', async () => {
    const { peers } = await swarm(4, { kMin: 1, graceMs: 30, forwardTimeoutMs: 150 });
    const [me, nan, shape, late] = peers as [
      (typeof peers)[0],
      (typeof peers)[0],
      (typeof peers)[0],
      (typeof peers)[0],
    ];
    nan.net.fault = { answer: 'nan' };
    shape.net.fault = { answer: 'wrong-shape' };
    late.net.fault = { delayMs: 400 };
    const before = await me.trainer.encoder.exportWeights();
    for (let s = 0; s < 6; s++) {
      const r = await me.trainer.step();
      expect(Number.isFinite(r.loss)).toBe(true);
      // never 'remote' for a bad expert
      for (const slot of [1, 2, 3]) expect(r.sources[slot]).not.toBe('remote');
    }
    const a = me.trainer.answers;
    expect(a.invalid).toBeGreaterThanOrEqual(6); // nan + shape, whenever routed
    expect(a.late).toBeGreaterThanOrEqual(1);
    expect(a.accepted).toBe(0);
    // weights are finite: the NaN never reached the model
    const after = await me.trainer.encoder.exportWeights();
    for (const [name, w] of Object.entries(after)) {
      expect(w.data.every(Number.isFinite)).toBe(true);
      expect(w.data).not.toEqual(before[name]!.data);
    }
    for (const p of peers) p.trainer.dispose();
  });

  it('when a peer leaves, its distilled stand-in answers in its place and no step fails', async () => {
    const { hub, peers } = await swarm(3);
    const [a] = peers;
    for (let s = 0; s < 12; s++) await Promise.all(peers.map((p) => p.trainer.step()));
    expect(a!.trainer.standIns.ready(1)).toBe(true);
    expect(a!.trainer.standIns.ready(2)).toBe(true);
    hub.leave('p1');
    let standIn = 0;
    for (let s = 0; s < 8; s++) {
      const r = await a!.trainer.step();
      expect(Number.isFinite(r.loss)).toBe(true);
      // The gone peer's slot: its stand-in whenever the gate routed rows to it, else nothing.
      expect(r.sources[1]).toBe(r.routed[1]! > 0 ? 'stand-in' : 'none');
      if (r.sources[1] === 'stand-in') standIn++;
      // p2 is still there: it answers, or (late) its stand-in does; never 'none' when routed.
      if (r.routed[2]! > 0) expect(['remote', 'stand-in']).toContain(r.sources[2]);
      else expect(r.sources[2]).toBe('none');
    }
    expect(standIn).toBeGreaterThan(0);
    expect(a!.trainer.answers.standIn).toBeGreaterThanOrEqual(standIn);
    // The stand-in learned something: its distillation loss went down from its first steps.
    expect(a!.trainer.standIns.lastLoss()).not.toBeNull();
    // Offline evaluation goes through the stand-ins and works without the network.
    const ev = await a!.trainer.evaluate();
    expect(ev.accuracy).toBeGreaterThan(0);
    for (const p of peers) p.trainer.dispose();
  });

  it('sends ∂L/∂f_j back; a peer that refuses remote gradients keeps its encoder unchanged by them', async () => {
    const { peers } = await swarm(2, {}, false);
    const [a, b] = peers;
    const bBefore = await b!.trainer.encoder.exportWeights();
    for (let s = 0; s < 4; s++) await a!.trainer.step();
    await new Promise((r) => setTimeout(r, 20));
    expect(a!.trainer.answers.backwardSent).toBeGreaterThan(0);
    expect(b!.server.stats.backwardsRefused).toBe(a!.trainer.answers.backwardSent);
    expect(b!.server.stats.backwardsApplied).toBe(0);
    expect(await b!.trainer.encoder.exportWeights()).toEqual(bBefore);
    for (const p of peers) p.trainer.dispose();
  });

  it('a peer that accepts remote gradients applies them (clipped) to its encoder', async () => {
    const { peers } = await swarm(2);
    const [a, b] = peers;
    const bBefore = await b!.trainer.encoder.exportWeights();
    for (let s = 0; s < 4; s++) await a!.trainer.step();
    await new Promise((r) => setTimeout(r, 20));
    expect(b!.server.stats.backwardsApplied).toBe(a!.trainer.answers.backwardSent);
    expect(b!.server.savedInputs).toBe(0);
    expect((await b!.trainer.encoder.exportWeights())['encoder/w0']!.data).not.toEqual(
      bBefore['encoder/w0']!.data,
    );
    for (const p of peers) p.trainer.dispose();
  });

  it('the expert server rejects malformed forward/backward requests with invalid', async () => {
    const { peers } = await swarm(2);
    const server = peers[1]!.server;
    const before = tf.memory().numTensors;
    await expect(
      server.forward('x', 'r', { shape: [2, 3], data: new Float32Array(6) }),
    ).rejects.toMatchObject({ code: 'invalid' });
    const bad = new Float32Array(784);
    bad[3] = Number.POSITIVE_INFINITY;
    await expect(server.forward('x', 'r', { shape: [1, 784], data: bad })).rejects.toMatchObject({
      code: 'invalid',
    });
    await expect(
      server.backward('x', 'nope', { shape: [1, 32], data: new Float32Array(32) }),
    ).rejects.toMatchObject({ code: 'invalid' });
    expect(server.stats.invalidRequests).toBe(3);
    // A refused request leaves no tensor behind.
    expect(tf.memory().numTensors).toBe(before);
    for (const p of peers) p.trainer.dispose();
  });
});
