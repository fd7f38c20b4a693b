/**
 * tfjs backend selection. Browser: WebGPU → WebGL → WASM → CPU, the first
 * that initialises wins. Node: WASM → CPU (tfjs-node cannot be installed
 * here: it downloads a binary). A forced backend is tried alone. The report
 * says which one runs and why each one before it did not.
 *
 * WASM needs its .wasm files. In Node they are read from the package's dist
 * folder (a file path). In the browser the app must hand over URLs its
 * bundler serves, e.g. with Vite:
 *
 *   import wasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
 *   import simd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
 *   import threaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
 *   selectBackend({ wasmPaths: wasmPathMap({ wasm, simd, threaded }) });
 *
 * Without them the WASM backend would fetch from a CDN, which we never do.
 */
import * as tf from '@tensorflow/tfjs';
import { nodeImport, packageRequire } from './node-import.js';
import type { BackendAttempt, BackendName, BackendReport } from './state.js';

export const BACKEND_NAMES: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];
export const BROWSER_ORDER: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];
export const NODE_ORDER: readonly BackendName[] = ['wasm', 'cpu'];

/** File name → URL map for setWasmPaths (the three binaries of tfjs-backend-wasm). */
export type WasmPathMap = Partial<
  Record<
    'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm',
    string
  >
>;

export function wasmPathMap(urls: { wasm?: string; simd?: string; threaded?: string }): WasmPathMap {
  const map: WasmPathMap = {};
  if (urls.wasm) map['tfjs-backend-wasm.wasm'] = urls.wasm;
  if (urls.simd) map['tfjs-backend-wasm-simd.wasm'] = urls.simd;
  if (urls.threaded) map['tfjs-backend-wasm-threaded-simd.wasm'] = urls.threaded;
  return map;
}

/** What selection needs from the platform; injected in tests. */
export interface BackendEnvironment {
  isNode: boolean;
  /** navigator.gpu, when the browser has one. */
  gpu?: { requestAdapter(): Promise<unknown> } | undefined;
  /** Makes `name` usable (lazy imports, wasm paths) and activates it; resolves false or throws when it cannot run. */
  activate(name: BackendName): Promise<boolean>;
}

export interface SelectBackendOptions {
  /** Try only this backend (`?backend=` in the app, `--backend` in the CLI). */
  force?: BackendName;
  /** Where the WASM binaries are: a directory prefix (ending in '/') or a per-file map. */
  wasmPaths?: string | WasmPathMap;
  env?: BackendEnvironment;
}

export function isNodeRuntime(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** The dist folder of @tensorflow/tfjs-backend-wasm as a path prefix, in Node. */
export async function nodeWasmDir(): Promise<string> {
  const path = await nodeImport<typeof import('node:path')>('node:path');
  const require = await packageRequire();
  const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return `${path.join(path.dirname(pkg), 'dist')}${path.sep}`;
}

/** Points tfjs-backend-wasm at its binaries (Node: the package's dist folder by default). */
export async function configureWasmPaths(paths?: string | WasmPathMap): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const where = paths ?? (isNodeRuntime() ? await nodeWasmDir() : undefined);
  if (where === undefined)
    throw new Error('WASM paths not configured (pass wasmPaths: URLs served by your bundler)');
  // usePlatformFetch stays false: Node's fetch cannot read file paths.
  if (typeof where === 'string') wasm.setWasmPaths(where);
  else wasm.setWasmPaths(where as Record<string, string>);
}

/** The real platform: navigator.gpu, lazy backend imports, tf.setBackend. */
export function defaultEnvironment(wasmPaths?: string | WasmPathMap): BackendEnvironment {
  const nav = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator;
  return {
    isNode: isNodeRuntime(),
    gpu: nav?.gpu,
    async activate(name) {
      if (name === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
      if (name === 'wasm') await configureWasmPaths(wasmPaths);
      const ok = await tf.setBackend(name);
      if (ok) await tf.ready();
      return ok && tf.getBackend() === name;
    },
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Picks and activates a backend. Throws only when nothing (not even CPU)
 * initialises, or when a forced backend fails.
 */
export async function selectBackend(opts: SelectBackendOptions = {}): Promise<BackendReport> {
  const env = opts.env ?? defaultEnvironment(opts.wasmPaths);
  const order = env.isNode ? NODE_ORDER : BROWSER_ORDER;
  const attempts: BackendAttempt[] = [];
  const candidates = opts.force ? [opts.force] : order;
  if (opts.force) {
    for (const name of order)
      if (name !== opts.force)
        attempts.push({ backend: name, ok: false, reason: 'skipped: another backend was forced' });
  } else if (env.isNode) {
    attempts.push({ backend: 'webgpu', ok: false, reason: 'not available in Node' });
    attempts.push({ backend: 'webgl', ok: false, reason: 'not available in Node' });
  }
  for (const name of candidates) {
    const reason = await activationFailure(name, env);
    if (reason === null) {
      attempts.push({ backend: name, ok: true });
      const forced = opts.force !== undefined;
      return { chosen: name, forced, attempts: sortAttempts(attempts), basis: forced ? 'forced' : 'order' };
    }
    attempts.push({ backend: name, ok: false, reason });
  }
  const failed = attempts.map((a) => `${a.backend}: ${a.reason ?? 'ok'}`).join('; ');
  throw new BackendError(
    opts.force ? 'backend-forced-failed' : 'no-backend',
    `no tfjs backend could run (${failed})`,
  );
}

/** Activates `name`; null when it runs, else why not (missing in this runtime, no adapter, failed to initialise). */
export async function activationFailure(name: BackendName, env: BackendEnvironment): Promise<string | null> {
  try {
    if ((name === 'webgpu' || name === 'webgl') && env.isNode) return 'not available in Node';
    if (name === 'webgpu') {
      if (!env.gpu) return 'navigator.gpu is missing';
      if (!(await env.gpu.requestAdapter())) return 'navigator.gpu gave no adapter';
    }
    return (await env.activate(name)) ? null : 'failed to initialise';
  } catch (err) {
    return `failed to initialise: ${describe(err)}`;
  }
}

export function sortAttempts(attempts: BackendAttempt[]): BackendAttempt[] {
  return [...attempts].sort((a, b) => BACKEND_NAMES.indexOf(a.backend) - BACKEND_NAMES.indexOf(b.backend));
}

export class BackendError extends Error {
  readonly code: 'no-backend' | 'backend-forced-failed';
  constructor(code: 'no-backend' | 'backend-forced-failed', message: string) {
    super(message);
    this.name = 'BackendError';
    this.code = code;
  }
}

export function parseBackendName(value: string | null | undefined): BackendName | undefined {
  return BACKEND_NAMES.find((b) => b === value);
}
