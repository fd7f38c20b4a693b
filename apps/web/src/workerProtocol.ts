/**
 * The messages between the page and peer.worker.ts on the worker object
 * itself (everything else goes over the three MessagePorts of packages/peer's
 * worker bridges, which validate their own traffic). The init message carries
 * the identity's secret seed — the worker rebuilds the Identity, whose `sign`
 * function cannot be cloned — and the ports. Both directions are checked here
 * like any other boundary.
 */
import type { BackendName } from '@peerbench/peer';
import { MAX_DEGREE, MAX_SERVER_URLS, TEST_ADVERSARIES, type TestAdversary } from './config.js';
import { type CpuLevel, DEFAULT_CPU_LEVEL, parseCpuLevel, shownValue } from './cpuUse.js';

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
  /** Every server of the network, first = serverUrl (the genesis is asked of each in turn); absent: serverUrl alone. */
  serverUrls?: string[];
  backend: BackendName | null;
  /** Choose the backend by a trial step on each (else by the fixed order). */
  backendTrial: boolean;
  wasmPaths: string;
  /** The "CPU use" level the worker's loop starts at. */
  cpu: CpuLevel;
  /** D: most links (and remote gate slots) of the Peer (its network's neighbourhood has the same bound). */
  degree: number;
  /** TEST ONLY (`?adversary=`): null for an honest peer. */
  testAdversary: TestAdversary | null;
}

/**
 * Page → worker after init: change the CPU use of the running loop (live,
 * without restarting the Peer). packages/peer's control port (hostPeer) has a
 * fixed, generic command set, so this app-level setting rides the worker
 * object's own channel, checked here like the init message.
 */
export interface SetCpuMessage {
  t: 'set-cpu';
  /** Echoed in the answer. */
  id: number;
  level: CpuLevel;
}

/** Worker → page on the worker object. */
export type WorkerEvent =
  /** The worker's code (tfjs included) is loaded and waits for init. */
  | { t: 'loaded' }
  /** The Peer exists (identity restored, bridges connected); commands can go. */
  | { t: 'ready'; peerId: string; cpu: CpuLevel }
  /** Answer to set-cpu: the level the loop now runs at (`note` when the asked one was not valid). */
  | { t: 'cpu'; id: number; level: CpuLevel; note?: string }
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
  const serverUrls = m.serverUrls ?? [m.serverUrl];
  if (
    !Array.isArray(serverUrls) ||
    serverUrls.length === 0 ||
    serverUrls.length > MAX_SERVER_URLS ||
    !serverUrls.every((u) => isText(u, 2048))
  )
    return 'bad serverUrls';
  if (!isText(m.wasmPaths, 2048)) return 'bad wasmPaths';
  if (m.backend !== null && !BACKEND_VALUES.includes(m.backend as BackendName)) return 'bad backend';
  if (typeof m.backendTrial !== 'boolean') return 'bad backendTrial';
  const cpu = parseCpuLevel(m.cpu);
  if (cpu === null) return 'bad cpu level';
  const degree = m.degree;
  if (typeof degree !== 'number' || !Number.isInteger(degree) || degree < 1 || degree > MAX_DEGREE)
    return 'bad degree';
  const adversary = m.testAdversary ?? null;
  if (adversary !== null && !(TEST_ADVERSARIES as readonly unknown[]).includes(adversary))
    return 'bad testAdversary';
  return {
    cpu,
    degree,
    testAdversary: adversary as TestAdversary | null,
    t: 'init',
    secretKey: m.secretKey,
    room: m.room,
    serverUrl: m.serverUrl,
    serverUrls: serverUrls as string[],
    wasmPaths: m.wasmPaths,
    backend: m.backend as BackendName | null,
    backendTrial: m.backendTrial,
  };
}

const isCallId = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * A set-cpu message, or why it is not one. An unknown level is not an error
 * the page could do anything about: it becomes the default, with a note.
 */
export function parseSetCpu(data: unknown): { msg: SetCpuMessage; note?: string } | string {
  const m = data as { t?: unknown; id?: unknown; level?: unknown } | null;
  if (typeof m !== 'object' || m === null || m.t !== 'set-cpu') return 'not a set-cpu message';
  if (!isCallId(m.id)) return 'bad id';
  const level = parseCpuLevel(m.level);
  if (level !== null) return { msg: { t: 'set-cpu', id: m.id, level } };
  return {
    msg: { t: 'set-cpu', id: m.id, level: DEFAULT_CPU_LEVEL },
    note: `Unknown CPU use "${shownValue(m.level)}"; using ${DEFAULT_CPU_LEVEL}.`,
  };
}

export function parseWorkerEvent(data: unknown): WorkerEvent | null {
  const m = data as { t?: unknown; peerId?: unknown; message?: unknown; cpu?: unknown } | null;
  if (typeof m !== 'object' || m === null) return null;
  if (m.t === 'loaded') return { t: 'loaded' };
  if (m.t === 'ready' && isText(m.peerId, 256)) {
    const cpu = parseCpuLevel(m.cpu);
    return cpu ? { t: 'ready', peerId: m.peerId, cpu } : null;
  }
  if (m.t === 'cpu') {
    const c = data as { id?: unknown; level?: unknown; note?: unknown };
    const level = parseCpuLevel(c.level);
    if (!isCallId(c.id) || level === null) return null;
    return isText(c.note) ? { t: 'cpu', id: c.id, level, note: c.note } : { t: 'cpu', id: c.id, level };
  }
  if ((m.t === 'init-failed' || m.t === 'uncaught') && isText(m.message))
    return { t: m.t, message: m.message };
  return null;
}
