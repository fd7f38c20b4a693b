/**
 * Responsiveness figures recorded in the page itself, for the e2e performance
 * run (and anyone curious, via `window.__peerbenchPerf`): main-thread long
 * tasks (> 50 ms, the browser's own definition) and the frame rate, sampled
 * once per second. Recording is cheap: one PerformanceObserver and one
 * requestAnimationFrame counter.
 */

export interface LongTaskRecord {
  startMs: number;
  durationMs: number;
}

export interface PerfRecorder {
  readonly startedAtMs: number;
  readonly longTasks: LongTaskRecord[];
  /** Frames counted in each whole second since start. */
  readonly fpsPerSecond: number[];
  /** uPlot/canvas chart redraws since start. */
  chartDraws: number;
  /** False when this browser does not report long tasks. */
  readonly longTasksSupported: boolean;
  /** performance.now() when the Peer first ran (page load and start-up excluded from "while training" figures). */
  trainingStartedAtMs: number | null;
}

declare global {
  interface Window {
    __peerbenchPerf?: PerfRecorder;
  }
}

const MAX_RECORDS = 10000;

export function startPerfRecorder(): PerfRecorder {
  const existing = window.__peerbenchPerf;
  if (existing) return existing;
  const supported = PerformanceObserver.supportedEntryTypes?.includes('longtask') ?? false;
  const rec: PerfRecorder = {
    startedAtMs: performance.now(),
    longTasks: [],
    fpsPerSecond: [],
    chartDraws: 0,
    longTasksSupported: supported,
    trainingStartedAtMs: null,
  };
  if (supported) {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (rec.longTasks.length < MAX_RECORDS)
          rec.longTasks.push({ startMs: e.startTime, durationMs: e.duration });
      }
    }).observe({ type: 'longtask', buffered: true });
  }
  let frames = 0;
  let secondStart = performance.now();
  const tick = (now: number) => {
    frames++;
    if (now - secondStart >= 1000) {
      if (rec.fpsPerSecond.length < MAX_RECORDS)
        rec.fpsPerSecond.push(Math.round((frames * 1000) / (now - secondStart)));
      frames = 0;
      secondStart = now;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  window.__peerbenchPerf = rec;
  return rec;
}

export function countChartDraw(): void {
  const rec = window.__peerbenchPerf;
  if (rec) rec.chartDraws++;
}

/** Marks the moment training started (once). */
export function markTrainingStarted(): void {
  const rec = window.__peerbenchPerf;
  if (rec && rec.trainingStartedAtMs === null) rec.trainingStartedAtMs = performance.now();
}
