// The e2e test pages and the app expose these on window; the specs call them
// through page.evaluate. Declared here so specs typecheck without importing
// browser modules.

import type { PerfRecorder } from '../../apps/web/src/perf.js';
import type { AppRuntime } from '../../apps/web/src/runtime.js';
import type { AppStore } from '../../apps/web/src/store.js';

declare global {
  interface Window {
    peerbenchLedger?: {
      replay(
        chain: unknown,
      ): Promise<
        | { ok: true; stateRoot: string; height: number; headHash: string }
        | { ok: false; code: string; message: string }
      >;
    };
    peerbenchMesh?: {
      join(signalingUrl: string, room: string): Promise<string>;
      connected(): string[];
      forward(peerId: string, values: number[]): Promise<{ shape: number[]; data: number[] }>;
      leave(): Promise<void>;
    };
    __peerbench?: { store: AppStore; runtime: AppRuntime };
    __peerbenchPerf?: PerfRecorder;
  }
}
