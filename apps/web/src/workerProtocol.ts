/**
 * The messages between the page and peer.worker.ts on the worker object
 * itself (everything else goes over the three MessagePorts of packages/peer's
 * worker bridges, which validate their own traffic). The init message carries
 * the identity's secret seed — the worker rebuilds the Identity, whose `sign`
 * function cannot be cloned — and the ports. Both directions are checked here
 * like any other boundary.
 */
import type { BackendName } from '@peerbench/peer';

export const BACKEND_VALUES: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];
/** Transfer-list order of the ports in the init message. */
export const PORT_ORDER = ['control', 'network', 'ledger'] as const;
const MAX_TEXT_CHARS = 4000;

export interface InitMessage {
  t: 'init';
  /** The 32-byte Ed25519 seed of the identity. */
  secretKey: Uint8Array;
  room: string;
  serverUrl: string;
  backend: BackendName | null;
  wasmPaths: string;
}

/** Worker → page on the worker object. */
export type WorkerEvent =
  /** The worker's code (tfjs included) is loaded and waits for init. */
  | { t: 'loaded' }
  /** The Peer exists (identity restored, bridges connected); commands can go. */
  | { t: 'ready'; peerId: string }
  /** Setting up failed (bad init, the Peer could not be created). */
  | { t: 'init-failed'; message: string }
  /** An error nothing in the worker caught (relayed so the page can show and log it). */
  | { t: 'uncaught'; message: string };

const isText = (x: unknown, max = MAX_TEXT_CHARS): x is string => typeof x === 'string' && x.length <= max;

/** The init message, or why it is not one. */
export function parseInit(data: unknown): InitMessage | string {
  const m = data as Partial<Record<keyof InitMessage, unknown>> | null;
  if (typeof m !== 'object' || m === null || m.t !== 'init') return 'not an init message';
  if (!(m.secretKey instanceof Uint8Array) || m.secretKey.length !== 32) return 'secretKey must be 32 bytes';
  if (!isText(m.room, 64) || m.room.length === 0) return 'bad room';
  if (!isText(m.serverUrl, 2048)) return 'bad serverUrl';
  if (!isText(m.wasmPaths, 2048)) return 'bad wasmPaths';
  if (m.backend !== null && !BACKEND_VALUES.includes(m.backend as BackendName)) return 'bad backend';
  return {
    t: 'init',
    secretKey: m.secretKey,
    room: m.room,
    serverUrl: m.serverUrl,
    wasmPaths: m.wasmPaths,
    backend: m.backend as BackendName | null,
  };
}

export function parseWorkerEvent(data: unknown): WorkerEvent | null {
  const m = data as { t?: unknown; peerId?: unknown; message?: unknown } | null;
  if (typeof m !== 'object' || m === null) return null;
  if (m.t === 'loaded') return { t: 'loaded' };
  if (m.t === 'ready' && isText(m.peerId, 256)) return { t: 'ready', peerId: m.peerId };
  if ((m.t === 'init-failed' || m.t === 'uncaught') && isText(m.message))
    return { t: m.t, message: m.message };
  return null;
}
