import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { BackendEnvironment } from '../src/backend.js';
import { selectBackendByTrial, trainerTrialWorkload } from '../src/backend-trial.js';
import type { BackendName } from '../src/state.js';
import { DEFAULT_STEP_OPTIONS } from '../src/trainer-options.js';
import { SMALL_MODEL, skewedTask } from './helpers.js';

/**
 * A browser-like platform whose backends take `stepMs[name]` per trial step
 * on a fake clock (the workload advances it), so the choice is decided by the
 * figures, not by this machine's speed.
 */
function timedEnv(stepMs: Partial<Record<BackendName, number>>, broken: BackendName[] = []) {
  let clock = 0;
  let active: BackendName | null = null;
  const activated: BackendName[] = [];
  let workloadsBuilt = 0;
  let workloadsDisposed = 0;
  const env: BackendEnvironment = {
    isNode: false,
    gpu: { requestAdapter: async () => ('webgpu' in stepMs ? {} : null) },
    async activate(name) {
      activated.push(name);
      if (!(name in stepMs)) return false;
      active = name;
      return true;
    },
  };
  const workload = () => {
    workloadsBuilt++;
    const on = active!;
    let first = true;
    return {
      async step() {
        if (broken.includes(on)) throw new Error(`${on} step broke`);
        // The first step also compiles kernels: ten times slower.
        clock += (stepMs[on] ?? 0) * (first ? 10 : 1);
        first = false;
      },
      dispose() {
        workloadsDisposed++;
      },
    };
  };
  return {
    env,
    workload,
    now: () => clock,
    activated,
    counts: () => ({ built: workloadsBuilt, disposed: workloadsDisposed }),
  };
}

describe('backend chosen by a trial step', () => {
  it('uses the fastest measured backend, not the first in the order, and reports every figure', async () => {
    const t = timedEnv({ webgpu: 120, webgl: 30, wasm: 12, cpu: 50 });
    const report = await selectBackendByTrial({
      env: t.env,
      workload: t.workload,
      now: t.now,
      budgetMs: 10_000,
    });
    expect(report.chosen).toBe('wasm');
    expect(report.basis).toBe('trial');
    expect(report.forced).toBe(false);
    expect(report.attempts.map((a) => [a.backend, a.trial?.stepMs, a.trial?.firstStepMs])).toEqual([
      ['webgpu', 120, 1200],
      ['webgl', 30, 300],
      ['wasm', 12, 120],
      ['cpu', 50, 500],
    ]);
    expect(report.attempts.every((a) => a.ok)).toBe(true);
    expect(report.attempts[0]!.reason).toBe('slower in the trial (120.0 ms per step vs 12.0 ms)');
    expect(report.attempts[2]!.reason).toBeUndefined();
    // Every backend tried once, then the winner activated again (the last one tried was CPU).
    expect(t.activated).toEqual(['webgpu', 'webgl', 'wasm', 'cpu', 'wasm']);
    expect(t.counts()).toEqual({ built: 4, disposed: 4 });
  });

  it('a GPU that is faster wins', async () => {
    const t = timedEnv({ webgpu: 4, webgl: 9, wasm: 40, cpu: 200 });
    expect((await selectBackendByTrial({ env: t.env, workload: t.workload, now: t.now })).chosen).toBe(
      'webgpu',
    );
  });

  it('stops timing a backend once its budget is spent (after at least one timed step)', async () => {
    const t = timedEnv({ wasm: 10, cpu: 400 });
    const report = await selectBackendByTrial({
      env: t.env,
      workload: t.workload,
      now: t.now,
      timedSteps: 5,
      budgetMs: 1000,
    });
    const byName = Object.fromEntries(report.attempts.map((a) => [a.backend, a]));
    expect(byName.wasm!.trial!.steps).toBe(5);
    // CPU: first step 4000 ms is past the budget already: one timed step, then stop.
    expect(byName.cpu!.trial!.steps).toBe(1);
    expect(byName.webgpu).toMatchObject({ ok: false, reason: 'navigator.gpu gave no adapter' });
    expect(byName.webgl).toMatchObject({ ok: false, reason: 'failed to initialise' });
  });

  it('a backend whose trial step throws is reported and not chosen', async () => {
    const t = timedEnv({ webgpu: 1, wasm: 20, cpu: 60 }, ['webgpu']);
    const report = await selectBackendByTrial({ env: t.env, workload: t.workload, now: t.now });
    expect(report.chosen).toBe('wasm');
    expect(report.attempts[0]).toMatchObject({
      ok: false,
      reason: 'its trial step failed: webgpu step broke',
    });
    expect(t.counts()).toEqual({ built: 3, disposed: 3 });
  });

  it('a forced backend skips the trial', async () => {
    const t = timedEnv({ webgpu: 120, wasm: 12 });
    const report = await selectBackendByTrial({
      env: t.env,
      workload: t.workload,
      now: t.now,
      force: 'webgpu',
    });
    expect(report).toMatchObject({ chosen: 'webgpu', forced: true, basis: 'forced' });
    expect(t.counts().built).toBe(0);
  });

  it('throws a coded error when no backend completes a trial', async () => {
    const t = timedEnv({ wasm: 1, cpu: 1 }, ['wasm', 'cpu']);
    await expect(
      selectBackendByTrial({ env: t.env, workload: t.workload, now: t.now }),
    ).rejects.toMatchObject({
      code: 'no-backend',
    });
  });

  it('in Node: the real trainer step on WASM and CPU, timed, and the trial gives back every tensor', async () => {
    const real = await skewedTask([1, 2], 3, 100);
    let shardDraws = 0;
    const task = {
      name: real.name,
      inputSize: real.inputSize,
      numClasses: real.numClasses,
      shardSize: real.shardSize,
      nextBatch: (n: number) => {
        shardDraws++;
        return real.nextBatch(n);
      },
      evalSet: () => real.evalSet(),
    };
    const step = { ...DEFAULT_STEP_OPTIONS, batchSize: 8 };
    const workload = trainerTrialWorkload(task, SMALL_MODEL, step);
    // Warm both backends once so their one-time state is not counted as a leak.
    await selectBackendByTrial({ workload, timedSteps: 1 });
    const before = tf.memory().numTensors;
    const report = await selectBackendByTrial({ workload, timedSteps: 2 });
    expect(['wasm', 'cpu']).toContain(report.chosen);
    expect(tf.getBackend()).toBe(report.chosen);
    const tried = report.attempts.filter((a) => a.trial);
    expect(tried.map((a) => a.backend)).toEqual(['wasm', 'cpu']);
    for (const a of tried) {
      expect(a.trial!.steps).toBeGreaterThanOrEqual(1);
      expect(a.trial!.stepMs).toBeGreaterThan(0);
    }
    expect(report.attempts.slice(0, 2).map((a) => a.reason)).toEqual([
      'not available in Node',
      'not available in Node',
    ]);
    expect(tf.memory().numTensors).toBe(before);
    // The trial draws from the held-out set, never from the private shard's stream.
    expect(shardDraws).toBe(0);
  }, 60_000);
});
