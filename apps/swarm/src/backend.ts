/**
 * The tfjs backend every Peer of the swarm shares (they run with
 * `backend: false`, so it is chosen once per process): packages/peer's
 * choice by measurement (backend-trial.ts), which in Node times the peer's
 * training step on WASM and on the CPU backend and keeps the faster (WASM,
 * about 5× the pure-JS CPU backend for these MLPs). The report, with both
 * trial times, goes into swarm.json (`backend`).
 */
import {
  type BackendReport,
  DEFAULT_MODEL_OPTIONS,
  DEFAULT_STEP_OPTIONS,
  MnistTask,
  selectBackendByTrial,
  trainerTrialWorkload,
} from '@peerbench/peer';

export async function initBackend(): Promise<BackendReport> {
  const task = await MnistTask.create({ seed: 1 });
  return selectBackendByTrial({
    workload: trainerTrialWorkload(task, DEFAULT_MODEL_OPTIONS, DEFAULT_STEP_OPTIONS),
  });
}

/** "wasm 31.2 ms, cpu 140.5 ms per trial step" (or how it was chosen when no trial ran). */
export function describeTrial(report: BackendReport): string {
  const timed = report.attempts.filter((a) => a.trial);
  if (timed.length === 0) return `chosen by ${report.basis ?? 'order'}`;
  return `${timed.map((a) => `${a.backend} ${a.trial!.stepMs.toFixed(1)} ms`).join(', ')} per trial step`;
}
