/**
 * Ledger determinism check in the browser: replays a chain handed in by the
 * e2e spec with the same light client Node uses, so the spec can compare
 * state roots. Only in the e2e build (vite --mode e2e).
 */
import { replayChain } from '@peerbench/ledger';

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
  }
}

window.peerbenchLedger = {
  async replay(chain) {
    try {
      const r = await replayChain(chain);
      document.getElementById('out')!.textContent = `height ${r.height}\nstate root ${r.stateRoot}`;
      return { ok: true, ...r };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return { ok: false, code: typeof code === 'string' ? code : 'unknown', message: String(err) };
    }
  },
};
