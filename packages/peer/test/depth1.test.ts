import { InMemoryHub } from '@peerbench/mesh';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { GStudent } from '../src/g-student.js';
import { Peer } from '../src/peer.js';
import { Trainer } from '../src/trainer.js';
import { SMALL_MODEL, skewedTask, trainerSwarm, useWasm } from './helpers.js';

beforeAll(useWasm);
vi.setConfig({ testTimeout: 120_000 });

/** `n` trainers on one hub answering at `depth`, each serving its f_i. */
const network = (n: number, depth: 0 | 1) =>
  trainerSwarm(n, {
    // Distillation queries on callers' inputs on (issue 16): the memory test covers their buffer too.
    model: { answerDepth: depth, callerDistillRows: 8 },
    step: { forwardTimeoutMs: 2000 },
  });

async function round(peers: { trainer: Trainer }[]) {
  for (const p of peers) {
    await p.trainer.step();
    await p.trainer.settleBackwards();
  }
}

const inputs = (rows: number) => ({
  shape: [rows, 784],
  data: Float32Array.from({ length: rows * 784 }, (_, i) => ((i * 7919) % 255) / 255),
});

describe('the student of G (eq 11)', () => {
  it('learns each slot only from the rows that slot answered, is ready per slot, forgets a dropped slot', () => {
    const student = new GStudent({
      inputSize: 6,
      outputSize: 2,
      slots: 3,
      hidden: 16,
      learningRate: 0.02,
      minTrainingSteps: 3,
      seed: 1,
    });
    const x = tf.randomUniform([4, 6], 0, 1, 'float32', 2) as tf.Tensor2D;
    const xData = x.dataSync() as Float32Array;
    // Slot 1 answered rows 0 and 2 with a fixed pattern; slot 2 never answered.
    const answer = { slot: 1, rows: [0, 2], data: Float32Array.of(0.5, -0.5, 0.5, -0.5) };
    const losses: number[] = [];
    // The first fit creates Adam's moments; from then on nothing may be left behind.
    student.remember(xData, [answer]);
    student.fit()!.dispose();
    const before = tf.memory().numTensors;
    for (let s = 0; s < 150; s++) {
      student.remember(xData, [answer]);
      const l = student.fit();
      losses.push(l!.dataSync()[0]!);
      l!.dispose();
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 10);
    expect(student.ready(1)).toBe(true);
    expect(student.ready(2)).toBe(false);
    student.remember(xData, []);
    expect(student.fit()).toBeNull();
    const block = student.predict(1, x);
    const v = block.dataSync();
    expect(v[0]).toBeCloseTo(0.5, 1);
    expect(v[1]).toBeCloseTo(-0.5, 1);
    block.dispose();
    student.drop(1);
    expect(student.ready(1)).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    student.dispose();
  });
});

describe('answers at depth 1 (eq 9, f_i(Ĝ(x)))', () => {
  it('a fresh depth-1 peer answers exactly as depth 0 (no student block trained yet); after training it answers differently, with no remote call', async () => {
    const d0 = await network(3, 0);
    const d1 = await network(3, 1);
    const x = inputs(5);
    const a0 = await d0.peers[1]!.server.forward('p0', 'r0', x);
    const a1 = await d1.peers[1]!.server.forward('p0', 'r1', x);
    expect(Array.from(a1.data)).toEqual(Array.from(a0.data));
    const pStart = await d1.peers[1]!.trainer.composition!.p.data();
    for (let s = 0; s < 20; s++) await round(d1.peers);
    const b = d1.peers[1]!;
    // The student stands for both neighbours and P has moved from its start (the identity blocks).
    expect(b.trainer.standIns.ready(1) && b.trainer.standIns.ready(2)).toBe(true);
    const p = await b.trainer.composition!.p.data();
    expect(p.some((v, i) => v !== pStart[i])).toBe(true);
    const callsBefore = b.net.traffic.forwardCalls;
    const served = await b.server.forward('p0', 'r2', x);
    expect(b.net.traffic.forwardCalls).toBe(callsBefore);
    const encoderOnly = tf.tidy(() => b.trainer.encoder.apply(tf.tensor2d(x.data, [5, 784])));
    const e = await encoderOnly.data();
    encoderOnly.dispose();
    expect(Math.max(...Array.from(served.data, (v, i) => Math.abs(v - e[i]!)))).toBeGreaterThan(1e-4);
    for (const p of [...d0.peers, ...d1.peers]) {
      p.server.dispose();
      p.trainer.dispose();
    }
  });

  it('a caller’s backward at depth 1 trains P (the projection of the student’s view) as well as the encoder', async () => {
    const { peers } = await network(2, 1);
    for (let s = 0; s < 10; s++) await round(peers);
    const b = peers[1]!;
    const pBefore = await b.trainer.composition!.p.data();
    const x = inputs(4);
    const applied = b.server.stats.backwardsApplied;
    await b.server.forward('p0', 'rq', x);
    await b.server.backward('p0', 'rq', { shape: [4, 32], data: new Float32Array(4 * 32).fill(0.05) });
    expect(b.server.stats.backwardsApplied).toBe(applied + 1);
    const pAfter = await b.trainer.composition!.p.data();
    expect(Array.from(pAfter)).not.toEqual(Array.from(pBefore));
    for (const p of peers) {
      p.server.dispose();
      p.trainer.dispose();
    }
  });

  it('when a neighbour leaves, its block comes from the student; no step fails; offline evaluation needs no network', async () => {
    const { hub, peers } = await network(3, 1);
    for (let s = 0; s < 15; s++) await round(peers);
    hub.leave('p1');
    const a = peers[0]!;
    let standIn = 0;
    for (let s = 0; s < 10; s++) {
      const r = await a.trainer.step();
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.sources[1]).toBe(r.routed[1]! > 0 ? 'stand-in' : 'none');
      if (r.sources[1] === 'stand-in') standIn++;
    }
    expect(standIn).toBeGreaterThan(0);
    a.trainer.setNetwork(null);
    const offline = await a.trainer.evaluate();
    const live = await a.trainer.evaluateLive();
    expect(offline.accuracy).toBeGreaterThan(0.1);
    // With no network, the live evaluation is the offline one.
    expect(live.accuracy).toBeCloseTo(offline.accuracy, 6);
    for (const p of peers) {
      p.server.dispose();
      p.trainer.dispose();
    }
  });

  it('weights round-trip with P; depth-0 weights do not fit a depth-1 model', async () => {
    const d1 = await network(2, 1);
    for (let s = 0; s < 5; s++) await round(d1.peers);
    const a = d1.peers[0]!.trainer;
    const saved = await a.exportWeights();
    expect(saved['compose/p']).toBeDefined();
    expect(a.weightsMismatch(saved)).toBeNull();
    const fresh = new Trainer(a.task, 'p0', null, a.model, a.stepOptions);
    fresh.importWeights(saved);
    expect(Array.from(await fresh.composition!.p.data())).toEqual(Array.from(saved['compose/p']!.data));
    const d0 = new Trainer(a.task, 'q', null, { ...a.model, answerDepth: 0 }, a.stepOptions);
    expect(d0.weightsMismatch(saved)).toMatch(/unknown weight compose\/p/);
    expect(fresh.weightsMismatch(await d0.exportWeights())).toMatch(/missing compose\/p/);
    for (const t of [fresh, d0]) t.dispose();
    for (const p of d1.peers) {
      p.server.dispose();
      p.trainer.dispose();
    }
  });

  it('keeps tf.memory().numTensors flat over 100 rounds of networked depth-1 steps (3 peers, one leaves) with serving, backwards, stand-ins and both evaluations', async () => {
    const { hub, peers } = await network(3, 1);
    for (let s = 0; s < 10; s++) await round(peers);
    const before = tf.memory().numTensors;
    for (let s = 0; s < 100; s++) {
      if (s === 50) hub.leave('p2');
      await round(s >= 50 ? peers.slice(0, 2) : peers);
      if (s % 25 === 0) {
        await peers[0]!.trainer.evaluate();
        await peers[0]!.trainer.evaluateLive();
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    for (const p of peers) {
      p.server.dispose();
      p.trainer.dispose();
    }
  });
});

describe('the Peer publishes live and offline held-out accuracy side by side', () => {
  it('every evalEverySteps: snapshot.accuracy (live) and snapshot.offlineAccuracy, both in the history point', async () => {
    const hub = new InMemoryHub();
    const peers = await Promise.all(
      [0, 1].map(async (i) =>
        Peer.create({
          task: await skewedTask([i * 3, i * 3 + 1], i + 1, 200),
          network: hub.join(`peer${i}`),
          model: { ...SMALL_MODEL, maxExperts: 3, seed: i + 1, answerDepth: 1 },
          backend: false,
          autoRun: false,
          evalEverySteps: 4,
          scoreEverySteps: 0,
          saveEverySteps: 0,
          pingEveryMs: 0,
        }),
      ),
    );
    for (const p of peers) await p.start();
    for (let s = 0; s < 8; s++) for (const p of peers) await p.step();
    const snap = peers[0]!.getSnapshot();
    expect(snap.accuracy).toBeGreaterThan(0);
    expect(snap.offlineAccuracy).toBeGreaterThan(0);
    const evaluated = snap.lossHistory.filter((p) => p.accuracy !== undefined);
    expect(evaluated.map((p) => p.step)).toEqual([4, 8]);
    for (const p of evaluated) expect(p.offlineAccuracy).toBeGreaterThan(0);
    for (const p of peers) await p.stop();
  });
});
