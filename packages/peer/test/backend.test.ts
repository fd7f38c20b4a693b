import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { type BackendEnvironment, selectBackend } from '../src/backend.js';
import type { BackendName } from '../src/state.js';

function fakeEnv(opts: {
  isNode?: boolean;
  adapter?: boolean;
  gpu?: boolean;
  working?: BackendName[];
}): BackendEnvironment & { activated: BackendName[] } {
  const activated: BackendName[] = [];
  return {
    activated,
    isNode: opts.isNode ?? false,
    gpu: opts.gpu === false ? undefined : { requestAdapter: async () => (opts.adapter ? {} : null) },
    async activate(name) {
      activated.push(name);
      if (!(opts.working ?? ['webgpu', 'webgl', 'wasm', 'cpu']).includes(name))
        throw new Error(`${name} broke`);
      return true;
    },
  };
}

describe('backend selection', () => {
  it('picks WebGPU first in a browser whose navigator.gpu yields an adapter', async () => {
    const env = fakeEnv({ adapter: true });
    const report = await selectBackend({ env });
    expect(report.chosen).toBe('webgpu');
    expect(env.activated).toEqual(['webgpu']);
  });

  it('falls back to WebGL when navigator.gpu gives no adapter, and says why', async () => {
    const env = fakeEnv({ adapter: false });
    const report = await selectBackend({ env });
    expect(report.chosen).toBe('webgl');
    expect(report.attempts[0]).toEqual({
      backend: 'webgpu',
      ok: false,
      reason: 'navigator.gpu gave no adapter',
    });
    expect(env.activated).toEqual(['webgl']);
  });

  it('walks on to WASM then CPU when initialisation throws', async () => {
    const env = fakeEnv({ gpu: false, working: ['cpu'] });
    const report = await selectBackend({ env });
    expect(report.chosen).toBe('cpu');
    expect(report.attempts.map((a) => [a.backend, a.ok])).toEqual([
      ['webgpu', false],
      ['webgl', false],
      ['wasm', false],
      ['cpu', true],
    ]);
    expect(report.attempts[0]?.reason).toBe('navigator.gpu is missing');
    expect(report.attempts[2]?.reason).toContain('wasm broke');
  });

  it('in Node never tries WebGPU or WebGL', async () => {
    const env = fakeEnv({ isNode: true, adapter: true });
    const report = await selectBackend({ env });
    expect(report.chosen).toBe('wasm');
    expect(env.activated).toEqual(['wasm']);
    expect(report.attempts.filter((a) => !a.ok).map((a) => a.reason)).toEqual([
      'not available in Node',
      'not available in Node',
    ]);
  });

  it('a forced backend is tried alone and fails loudly', async () => {
    const env = fakeEnv({ adapter: true });
    const report = await selectBackend({ env, force: 'wasm' });
    expect(report).toMatchObject({ chosen: 'wasm', forced: true });
    expect(env.activated).toEqual(['wasm']);
    await expect(selectBackend({ env: fakeEnv({ working: [] }), force: 'webgl' })).rejects.toMatchObject({
      code: 'backend-forced-failed',
    });
  });

  it('really runs WASM in Node with the binaries from the package dist folder', async () => {
    const report = await selectBackend();
    expect(report.chosen).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3])).dataSync()[0])).toBe(6);
  });
});
