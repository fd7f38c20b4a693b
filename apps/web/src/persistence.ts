/**
 * What the app keeps in IndexedDB: identity keys, settings and chart history.
 * One record under one key, with a `version` and a pure `migrate()` that
 * brings any earlier layout to the current one (tested without a browser).
 *
 * Layout history:
 *   v1  one identity seed, the last room, one loss/stake history for all rooms.
 *   v2  identity seeds in slots (one per open tab of the same browser, claimed
 *       with Web Locks so two tabs never join as the same peer), and chart
 *       history kept per room and slot, since stake in one network says
 *       nothing about another.
 *   v3  settings.cpu: the "CPU use" level (cpuUse.ts). Earlier records get
 *       the default; an unknown stored value gets the default and a note.
 *
 * Model weights are the Peer runtime's business (its own persistence).
 */
import type { BlockPoint, StepPoint } from '@peerbench/peer';
import { type CpuLevel, DEFAULT_CPU_LEVEL, parseCpuLevel, shownValue } from './cpuUse.js';

export const PERSIST_VERSION = 3;
export const STORAGE_KEY = 'peerbench/app';
/** Where an unreadable record is moved, so a bug never silently destroys keys. */
export const CORRUPT_BACKUP_KEY = 'peerbench/app.corrupt';
export const MAX_LOSS_POINTS = 2000;
export const MAX_BLOCK_POINTS = 2000;
/** Histories of older rooms are dropped beyond this many. */
export const MAX_HISTORY_ENTRIES = 16;
const SEED_HEX_RE = /^[0-9a-f]{64}$/;

export interface ChartHistory {
  loss: StepPoint[];
  blocks: BlockPoint[];
  updatedAtMs: number;
}

export interface PersistedV1 {
  version: 1;
  identitySeed: string;
  lastRoom: string | null;
  lossHistory: StepPoint[];
  blockHistory: BlockPoint[];
}

export interface PersistedState {
  version: 3;
  /** Hex Ed25519 seeds; index = slot. Append-only so a slot keeps its identity. */
  identities: string[];
  settings: { lastRoom: string | null; cpu: CpuLevel };
  /** Key: historyKey(room, slot). */
  history: Record<string, ChartHistory>;
}

export type MigrationResult =
  | {
      ok: true;
      state: PersistedState;
      migratedFrom: number | null;
      /** Values that were replaced by defaults, for a note a person reads. */
      warnings: string[];
    }
  | { ok: false; reason: 'newer-version' | 'corrupt'; detail: string };

export function emptyState(): PersistedState {
  return { version: 3, identities: [], settings: { lastRoom: null, cpu: DEFAULT_CPU_LEVEL }, history: {} };
}

export function historyKey(room: string, slot: number): string {
  return `${room}#${slot}`;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function cleanSteps(raw: unknown): StepPoint[] {
  if (!Array.isArray(raw)) return [];
  const out: StepPoint[] = [];
  for (const p of raw) {
    if (!isRecord(p) || !finite(p.step) || !finite(p.timeMs) || !finite(p.loss)) continue;
    const point: StepPoint = { step: p.step, timeMs: p.timeMs, loss: p.loss };
    if (finite(p.accuracy)) point.accuracy = p.accuracy;
    if (finite(p.offlineAccuracy)) point.offlineAccuracy = p.offlineAccuracy;
    out.push(point);
  }
  return out.slice(-MAX_LOSS_POINTS);
}

function cleanBlocks(raw: unknown): BlockPoint[] {
  if (!Array.isArray(raw)) return [];
  const out: BlockPoint[] = [];
  for (const p of raw) {
    if (!isRecord(p)) continue;
    const { height, timeMs, stake, rank, tau } = p;
    if (!finite(height) || !finite(timeMs) || !finite(stake) || !finite(rank) || !finite(tau)) continue;
    out.push({ height, timeMs, stake, rank, tau });
  }
  return out.slice(-MAX_BLOCK_POINTS);
}

const cleanRoom = (x: unknown): string | null =>
  typeof x === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(x) ? x : null;

function fromV1(raw: Record<string, unknown>): PersistedState {
  const state = emptyState();
  if (typeof raw.identitySeed === 'string' && SEED_HEX_RE.test(raw.identitySeed)) {
    state.identities.push(raw.identitySeed);
  }
  const room = cleanRoom(raw.lastRoom);
  state.settings.lastRoom = room;
  const loss = cleanSteps(raw.lossHistory);
  const blocks = cleanBlocks(raw.blockHistory);
  // v1 had one history; it belonged to the last room and the only identity (slot 0).
  if (room && state.identities.length > 0 && (loss.length > 0 || blocks.length > 0)) {
    const last = Math.max(loss.at(-1)?.timeMs ?? 0, blocks.at(-1)?.timeMs ?? 0);
    state.history[historyKey(room, 0)] = { loss, blocks, updatedAtMs: last };
  }
  return state;
}

/** v2 and v3 share everything but settings.cpu. */
function fromV2(raw: Record<string, unknown>): PersistedState {
  const state = emptyState();
  if (Array.isArray(raw.identities)) {
    for (const seed of raw.identities) {
      // Keep slot positions even around a damaged entry: replace it by '' so later slots keep their index.
      state.identities.push(typeof seed === 'string' && SEED_HEX_RE.test(seed) ? seed : '');
    }
  }
  state.settings.lastRoom = isRecord(raw.settings) ? cleanRoom(raw.settings.lastRoom) : null;
  if (isRecord(raw.history)) {
    for (const [key, entry] of Object.entries(raw.history)) {
      if (!isRecord(entry) || !/^[A-Za-z0-9_-]{1,64}#\d{1,3}$/.test(key)) continue;
      state.history[key] = {
        loss: cleanSteps(entry.loss),
        blocks: cleanBlocks(entry.blocks),
        updatedAtMs: finite(entry.updatedAtMs) ? entry.updatedAtMs : 0,
      };
    }
  }
  return state;
}

/**
 * Brings whatever was stored to the current layout. Never throws. Damaged
 * points are dropped one by one rather than losing the whole record; a record
 * from a newer app version is refused (the caller must not overwrite it).
 */
export function migrate(raw: unknown): MigrationResult {
  if (raw === undefined || raw === null)
    return { ok: true, state: emptyState(), migratedFrom: null, warnings: [] };
  if (!isRecord(raw) || !finite(raw.version) || !Number.isInteger(raw.version) || raw.version < 1) {
    return { ok: false, reason: 'corrupt', detail: 'stored app data has no valid version' };
  }
  if (raw.version > PERSIST_VERSION) {
    return {
      ok: false,
      reason: 'newer-version',
      detail: `stored app data is version ${raw.version}; this app reads up to ${PERSIST_VERSION}`,
    };
  }
  if (raw.version === 1) return { ok: true, state: fromV1(raw), migratedFrom: 1, warnings: [] };
  const state = fromV2(raw);
  if (raw.version === 2) return { ok: true, state, migratedFrom: 2, warnings: [] };
  const warnings: string[] = [];
  const stored = isRecord(raw.settings) ? raw.settings.cpu : undefined;
  const cpu = parseCpuLevel(stored);
  if (cpu !== null) state.settings.cpu = cpu;
  else if (stored !== undefined)
    warnings.push(`The saved CPU use ("${shownValue(stored)}") is not known; using ${DEFAULT_CPU_LEVEL}.`);
  return { ok: true, state, migratedFrom: null, warnings };
}

/** Appends a new identity seed or fills the first damaged slot; returns the slot. */
export function addIdentity(state: PersistedState, seedHex: string): number {
  const free = state.identities.indexOf('');
  if (free >= 0) {
    state.identities[free] = seedHex;
    return free;
  }
  state.identities.push(seedHex);
  return state.identities.length - 1;
}

/** Stores one history entry and evicts the least recently updated beyond the cap. */
export function putHistory(state: PersistedState, key: string, history: ChartHistory): PersistedState {
  const next: Record<string, ChartHistory> = { ...state.history, [key]: trimHistory(history) };
  const keys = Object.keys(next);
  if (keys.length > MAX_HISTORY_ENTRIES) {
    keys.sort((a, b) => next[a]!.updatedAtMs - next[b]!.updatedAtMs);
    for (const k of keys.slice(0, keys.length - MAX_HISTORY_ENTRIES)) if (k !== key) delete next[k];
  }
  return { ...state, history: next };
}

function trimHistory(h: ChartHistory): ChartHistory {
  return {
    loss: h.loss.slice(-MAX_LOSS_POINTS),
    blocks: h.blocks.slice(-MAX_BLOCK_POINTS),
    updatedAtMs: h.updatedAtMs,
  };
}

/** The storage the app needs; idb-keyval in the browser, a Map in tests. */
export interface KeyValueStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  /** Atomic read-modify-write (one IndexedDB transaction), so two tabs never lose each other's writes. */
  update(key: string, fn: (old: unknown) => unknown): Promise<void>;
}

export type LoadResult =
  | { writable: true; state: PersistedState; migratedFrom: number | null; note: string | null }
  | { writable: false; state: PersistedState; note: string };

/** Reads and migrates the record; a corrupt one is backed up, a newer one left alone. */
export async function loadState(kv: KeyValueStore): Promise<LoadResult> {
  let raw: unknown;
  try {
    raw = await kv.get(STORAGE_KEY);
  } catch (err) {
    return {
      writable: false,
      state: emptyState(),
      note: `This browser does not let the page store data (${String(err)}); your identity and charts will not survive a reload.`,
    };
  }
  const result = migrate(raw);
  if (result.ok) {
    if (result.migratedFrom !== null || result.warnings.length > 0) await kv.set(STORAGE_KEY, result.state);
    const note = result.warnings.length > 0 ? result.warnings.join(' ') : null;
    return { writable: true, state: result.state, migratedFrom: result.migratedFrom, note };
  }
  if (result.reason === 'newer-version') {
    return {
      writable: false,
      state: emptyState(),
      note: `Saved data comes from a newer version of this app (${result.detail}); it is left untouched and this tab uses a temporary identity.`,
    };
  }
  await kv.set(CORRUPT_BACKUP_KEY, raw);
  const fresh = emptyState();
  await kv.set(STORAGE_KEY, fresh);
  return {
    writable: true,
    state: fresh,
    migratedFrom: null,
    note: 'Saved data could not be read and was set aside; starting with a new identity.',
  };
}

/** Applies `change` to the current stored record inside one transaction. */
export async function updateState(
  kv: KeyValueStore,
  change: (s: PersistedState) => PersistedState,
): Promise<void> {
  await kv.update(STORAGE_KEY, (old) => {
    const m = migrate(old);
    if (!m.ok) return old; // never overwrite what we cannot read
    return change(m.state);
  });
}
