/**
 * A quick look, before any tfjs code loads, at which compute backend this
 * device will get, so the first screen can say it with the reason. The Peer
 * runtime makes the real choice when it starts (its BackendReport replaces
 * this one in the store); the order is the same: WebGPU, WebGL, WASM, CPU.
 */
import type { BackendAttempt, BackendName, BackendReport } from '@peerbench/peer';
import { BACKEND_NAMES } from './config.js';

interface GpuLike {
  requestAdapter(): Promise<unknown | null>;
}

export interface ProbeEnv {
  gpu: GpuLike | undefined;
  /** Creates a WebGL2 context on a throwaway canvas, or null. */
  webgl2: () => boolean;
  wasm: boolean;
}

/**
 * The page's view of the backends the Peer will find. In a worker (`thread`
 * 'worker') WebGL needs an OffscreenCanvas with a WebGL2 context, which is
 * what tfjs creates there; WebGPU (navigator.gpu) and WASM exist in dedicated
 * workers as on the page.
 */
export function browserProbeEnv(thread: 'worker' | 'main' = 'main'): ProbeEnv {
  return {
    gpu: (navigator as Navigator & { gpu?: GpuLike }).gpu,
    webgl2: () => {
      try {
        let gl: WebGL2RenderingContext | null;
        if (thread === 'worker') {
          if (typeof OffscreenCanvas !== 'function') return false;
          gl = new OffscreenCanvas(1, 1).getContext('webgl2');
        } else {
          gl = document.createElement('canvas').getContext('webgl2');
        }
        const ok = gl !== null;
        gl?.getExtension('WEBGL_lose_context')?.loseContext();
        return ok;
      } catch {
        return false;
      }
    },
    wasm: typeof WebAssembly === 'object' && typeof WebAssembly.instantiate === 'function',
  };
}

async function check(name: BackendName, env: ProbeEnv): Promise<BackendAttempt> {
  switch (name) {
    case 'webgpu': {
      if (!env.gpu) return { backend: name, ok: false, reason: 'this browser has no WebGPU' };
      try {
        const adapter = await env.gpu.requestAdapter();
        return adapter
          ? { backend: name, ok: true }
          : { backend: name, ok: false, reason: 'WebGPU exposes no GPU adapter here' };
      } catch (err) {
        return { backend: name, ok: false, reason: `WebGPU adapter request failed: ${String(err)}` };
      }
    }
    case 'webgl':
      return env.webgl2()
        ? { backend: name, ok: true }
        : {
            backend: name,
            ok: false,
            reason: 'WebGL2 is unavailable (disabled, no GPU, or no OffscreenCanvas for the training worker)',
          };
    case 'wasm':
      return env.wasm
        ? { backend: name, ok: true }
        : { backend: name, ok: false, reason: 'WebAssembly is unavailable' };
    case 'cpu':
      return { backend: name, ok: true };
  }
}

export async function probeBackends(forced: BackendName | null, env: ProbeEnv): Promise<BackendReport> {
  if (forced) {
    const attempt = await check(forced, env);
    const attempts: BackendAttempt[] = [attempt];
    if (attempt.ok) return { chosen: forced, forced: true, attempts };
    // A forced backend that cannot run still falls back, and the UI says so.
    for (const name of BACKEND_NAMES) {
      if (name === forced) continue;
      const a = await check(name, env);
      attempts.push(a);
      if (a.ok) return { chosen: name, forced: true, attempts };
    }
    return { chosen: 'cpu', forced: true, attempts };
  }
  const attempts: BackendAttempt[] = [];
  for (const name of BACKEND_NAMES) {
    const a = await check(name, env);
    attempts.push(a);
    if (a.ok) return { chosen: name, forced: false, attempts };
  }
  return { chosen: 'cpu', forced: false, attempts };
}

const LABELS: Record<BackendName, string> = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WASM', cpu: 'CPU' };
export function backendLabel(name: BackendName): string {
  return LABELS[name];
}

/** An attempt the runtime skipped on purpose (another backend was forced) is not a failure. */
const isSkip = (a: BackendAttempt) => !a.ok && (a.reason ?? '').startsWith('skipped');

/** One sentence: which backend and why (e.g. why the faster ones were skipped). */
export function describeBackend(report: BackendReport): string {
  const chosen = backendLabel(report.chosen);
  const failed = report.attempts.filter((a) => !a.ok && !isSkip(a) && a.backend !== report.chosen);
  if (report.forced) {
    // The probe falls back from a forced backend that cannot run; the Peer reports the others as skipped.
    const forcedFailed = failed[0];
    if (forcedFailed) {
      return `${backendLabel(forcedFailed.backend)} was requested in the link but ${forcedFailed.reason ?? 'is unavailable'}; using ${chosen} instead.`;
    }
    return `${chosen}, as requested in the link (?backend=${report.chosen}).`;
  }
  if (report.basis === 'trial') {
    const unavailable = failed.map((a) => `${backendLabel(a.backend)}: ${a.reason ?? 'unavailable'}`);
    return `${chosen}: the fastest training step in a trial on this device (${trialFigures(report)})${
      unavailable.length > 0 ? `; ${unavailable.join('; ')}` : ''
    }.`;
  }
  if (failed.length === 0) return `${chosen}: the fastest backend this device offers.`;
  const why = failed.map((a) => `${backendLabel(a.backend)}: ${a.reason ?? 'unavailable'}`).join('; ');
  return `${chosen}, because ${why}.`;
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(value < 10 ? 1 : 0)} ms`;
}

/** "WASM 25 ms, WebGL 120 ms, …" per step, fastest first; empty when no trial ran. */
export function trialFigures(report: BackendReport): string {
  return report.attempts
    .filter((a) => a.trial)
    .sort((a, b) => a.trial!.stepMs - b.trial!.stepMs)
    .map((a) => `${backendLabel(a.backend)} ${ms(a.trial!.stepMs)}`)
    .join(', ');
}

/** One row per backend for the dashboard: its trial figures, or why it did not run. */
export function trialRows(report: BackendReport): {
  backend: BackendName;
  label: string;
  stepMs: number | null;
  firstStepMs: number | null;
  note: string;
}[] {
  return report.attempts.map((a) => ({
    backend: a.backend,
    label: backendLabel(a.backend),
    stepMs: a.trial?.stepMs ?? null,
    firstStepMs: a.trial?.firstStepMs ?? null,
    note:
      a.backend === report.chosen ? 'chosen: fastest step' : a.trial ? 'slower' : (a.reason ?? 'not tried'),
  }));
}

export function formatMs(value: number | null): string {
  return value === null ? '—' : ms(value);
}

/** True when the backend in use is not the first one tried (a real failure, not a forced skip). */
export function isFallback(report: BackendReport): boolean {
  return report.attempts.some((a) => !a.ok && !isSkip(a));
}
