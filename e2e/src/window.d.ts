// The app exposes these on window; the specs call them through page.evaluate.
// Declared here so specs typecheck without importing browser modules. The test
// pages' APIs (peerbenchLedger, peerbenchMesh, peerbenchTrain) are declared
// once, beside the code that sets them (apps/web/src/e2e/*-page.ts), which
// the root tsconfig compiles with the specs.

import type { PerfRecorder } from '../../apps/web/src/perf.js';
import type { AppRuntime } from '../../apps/web/src/runtime.js';
import type { AppStore } from '../../apps/web/src/store.js';

declare global {
  interface Window {
    __peerbench?: { store: AppStore; runtime: AppRuntime };
    __peerbenchPerf?: PerfRecorder;
  }
}
