/**
 * The glue between the Peer runtime and the app store. It owns the store's
 * writes: loads saved identity and history, probes the backend for the first
 * screen, creates and drives the Peer, coalesces its snapshots into the store
 * (at most one store update per SNAPSHOT_FLUSH_MS, so the page never
 * re-renders per training step), and saves chart history.
 * No React here; components call the methods below and read the store.
 */

import type { LinkInfo } from '@peerbench/mesh';
import type { BackendName, PeerSnapshot } from '@peerbench/peer';
import type { Identity } from '@peerbench/protocol';
import { type ProbeEnv, probeBackends } from './backendProbe.js';
import type { TestAdversary } from './config.js';
import { type CpuLevel, DEFAULT_CPU_LEVEL, parseCpuLevel, shownValue } from './cpuUse.js';
import { claimIdentity } from './identitySlots.js';
import { linkViews } from './links.js';
import type { PeerThread } from './peerConfig.js';
import { historyKey, type KeyValueStore, loadState, putHistory, updateState } from './persistence.js';
import { type AppStore, reduceRestoredHistory, reduceSnapshot } from './store.js';

/** Longest the store lags behind the Peer; bounds React/chart work to ~5 updates/s. */
export const SNAPSHOT_FLUSH_MS = 200;
/** Chart history is written to IndexedDB at most this often (and when the tab is hidden). */
export const HISTORY_SAVE_INTERVAL_MS = 3000;
export const START_RETRY_MIN_MS = 1000;
export const START_RETRY_MAX_MS = 15000;

/** What the app needs from the Peer (packages/peer's Peer class satisfies it). */
export interface PeerHandle {
  /** Where the Peer runs: a worker (the page stays responsive) or the page's main thread. */
  readonly thread?: PeerThread;
  start(): Promise<void>;
  stop(): Promise<void>;
  pause(): void | Promise<void>;
  resume(): void | Promise<void>;
  subscribe(cb: (snapshot: PeerSnapshot) => void): () => void;
  getSnapshot(): PeerSnapshot;
  /** The CPU use level the Peer's loop started at; absent where the loop has a fixed pause (main thread). */
  readonly cpuApplied?: CpuLevel;
  /** Changes the CPU use live; resolves with the level the loop now runs at. */
  setCpu?(level: CpuLevel): Promise<{ level: CpuLevel; note?: string }>;
  /** This peer's WebRTC links (the mesh's `links()`); a change also emits a snapshot. */
  links?(): readonly LinkInfo[];
}

export interface PeerLaunchOptions {
  identity: Identity;
  room: string;
  serverUrl: string;
  /** Every server of the network, first = serverUrl (the signaling client fails over between them); absent: serverUrl alone. */
  serverUrls?: readonly string[];
  /** null: the Peer chooses (WebGPU → WebGL → WASM → CPU). */
  backend: BackendName | null;
  /** Choose the backend by a trial step on each (else by the fixed order). */
  backendTrial: boolean;
  /** URL prefix where tfjs-backend-wasm's .wasm files are served. */
  wasmPaths: string;
  /** The "CPU use" level to start at (the worker's loop; the main thread keeps its fixed pause). */
  cpu: CpuLevel;
  /** D: most WebRTC links this peer keeps (bounded neighbourhood, chosen once per block by the neighbour policy). */
  degree: number;
  /** TEST ONLY (`?adversary=`): serve the others noise instead of this Peer's expert. Absent or null: honest. */
  testAdversary?: TestAdversary | null;
  /** Tells the person something about how the Peer was started (e.g. the worker fell back to the page). */
  notify?: (note: string) => void;
}

export type PeerFactory = (options: PeerLaunchOptions) => PeerHandle | Promise<PeerHandle>;

export interface RuntimeDeps {
  store: AppStore;
  kv: KeyValueStore;
  createPeer: PeerFactory;
  probeEnv: ProbeEnv;
  wasmPaths: string;
  /** False where RTCPeerConnection is missing or disabled (extensions, policies). */
  webrtcAvailable: boolean;
  /** Writes the room into the address bar so the URL is the share link. */
  setRoomInUrl?: (room: string) => void;
  /** Awaited before the landing screen enables Contribute (the Peer's worker loading its code). */
  peerCodeLoaded?: Promise<void>;
  /** Writes a changed CPU use into the address bar when it carries `?cpu=` (so a reload keeps the choice). */
  setCpuInUrl?: (level: CpuLevel) => void;
}

export class AppRuntime {
  private peer: PeerHandle | null = null;
  private identity: Identity | null = null;
  private slot: number | null = null;
  private writable = false;
  private unsubscribe: (() => void) | null = null;
  private pending: PeerSnapshot | null = null;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private saveTimer: ReturnType<typeof setInterval> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryDelayMs = START_RETRY_MIN_MS;
  private savedLoss: unknown = null;
  private savedBlocks: unknown = null;
  private starting = false;

  constructor(private readonly deps: RuntimeDeps) {}

  /** Loads identity and history and probes the backend; ends on the landing screen. */
  async init(): Promise<void> {
    const { store, kv } = this.deps;
    const { room, forcedBackend } = store.getState().launch;
    this.deps.setRoomInUrl?.(room);
    const loaded = await loadState(kv);
    this.writable = loaded.writable;
    const notes = [...store.getState().notes];
    if (loaded.note) notes.push(loaded.note);
    if (loaded.writable && loaded.migratedFrom !== null) {
      notes.push(`Saved data was upgraded from version ${loaded.migratedFrom}.`);
    }
    const claimed = await claimIdentity(kv, loaded.state, loaded.writable);
    this.identity = claimed.identity;
    this.slot = claimed.slot;
    const saved = claimed.slot !== null ? loaded.state.history[historyKey(room, claimed.slot)] : undefined;
    if (saved) {
      store.setState((s) => reduceRestoredHistory(s, saved));
      this.savedLoss = store.getState().lossHistory;
      this.savedBlocks = store.getState().blockHistory;
    }
    if (this.writable) {
      await updateState(kv, (s) => ({ ...s, settings: { ...s.settings, lastRoom: room } })).catch(() => {});
    }
    // ?cpu= wins for this page (and a choice made while this loaded); otherwise the saved one (validated by migrate()).
    if (store.getState().cpu.source === 'default') {
      store.setState({ cpu: { ...store.getState().cpu, level: loaded.state.settings.cpu, source: 'saved' } });
    }
    store.setState({ peerId: claimed.identity.peerId, identitySlot: claimed.slot, notes });
    if (!this.deps.webrtcAvailable) {
      store.setState({
        appError: {
          code: 'webrtc-blocked',
          message:
            'This browser does not allow WebRTC (it may be disabled by a setting, an extension or a policy). Peers exchange work over WebRTC, so this tab cannot contribute until it is allowed.',
        },
      });
    }
    const probe = await probeBackends(forcedBackend, this.deps.probeEnv);
    store.setState({ probe });
    await this.deps.peerCodeLoaded?.catch(() => undefined);
    store.setState((s) => ({ phase: s.phase === 'loading' ? 'landing' : s.phase }));
  }

  /** The Contribute button. Safe to press twice. */
  async contribute(): Promise<void> {
    if (this.peer || this.starting || !this.identity) return;
    if (!this.deps.webrtcAvailable) return;
    this.starting = true;
    const { store } = this.deps;
    const { launch } = store.getState();
    try {
      const peer = await this.deps.createPeer({
        identity: this.identity,
        room: launch.room,
        serverUrl: launch.serverUrl,
        serverUrls: launch.serverUrls,
        backend: launch.forcedBackend,
        backendTrial: launch.backendTrial,
        wasmPaths: this.deps.wasmPaths,
        cpu: store.getState().cpu.level,
        degree: launch.degree,
        testAdversary: launch.testAdversary,
        notify: (note) => store.setState((s) => ({ notes: [...s.notes, note] })),
      });
      this.peer = peer;
      store.setState((s) => ({
        peerThread: peer.thread ?? null,
        cpu: { ...s.cpu, applied: peer.cpuApplied ?? null },
      }));
      // A level chosen while the worker was starting reached it after its init message: send it now.
      const wanted = store.getState().cpu.level;
      if (peer.setCpu && peer.cpuApplied !== undefined && peer.cpuApplied !== wanted)
        void this.setCpuLevel(wanted);
      this.unsubscribe = peer.subscribe((snap) => this.onSnapshot(snap));
      store.setState((s) => ({ ...reduceSnapshot(s, peer.getSnapshot()), appError: null }));
      this.startSaving();
      await this.startPeer();
    } catch (err) {
      // Creating the Peer failed (e.g. no usable backend at all): say so, stay on the first screen.
      this.peer = null;
      store.setState({
        appError: { code: 'start-failed', message: `Could not start contributing: ${errorText(err)}` },
      });
    } finally {
      this.starting = false;
    }
  }

  /** Starts the Peer; when that fails (server down) shows why and retries with backoff. */
  private async startPeer(): Promise<void> {
    const peer = this.peer;
    if (!peer) return;
    try {
      await peer.start();
      this.retryDelayMs = START_RETRY_MIN_MS;
      this.deps.store.setState({ appError: null });
    } catch (err) {
      const delay = this.retryDelayMs;
      this.retryDelayMs = Math.min(START_RETRY_MAX_MS, this.retryDelayMs * 2);
      const at = new Date(Date.now() + delay).toLocaleTimeString();
      const { launch, snapshot } = this.deps.store.getState();
      // Connected to the signaling server but still failing: say what failed rather than blaming the network.
      const reachable = snapshot?.connection === 'connected';
      this.deps.store.setState({
        appError: reachable
          ? {
              code: 'start-failed',
              message: `Could not start contributing (${errorText(err)}). Trying again at ${at}.`,
            }
          : {
              code: 'server-unreachable',
              message: `Cannot reach the network's server at ${launch.serverUrl}. Trying again at ${at}.`,
            },
      });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        void this.startPeer();
      }, delay);
    }
  }

  /** The "Retry now" button. */
  retryNow(): void {
    if (!this.peer) {
      void this.contribute();
      return;
    }
    if (!this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryDelayMs = START_RETRY_MIN_MS;
    void this.startPeer();
  }

  /**
   * The CPU use control (first screen and dashboard). Anything but a known
   * level becomes the default with a note. Saved with the settings, applied
   * live to a running worker; `cpu.applied` is what the worker confirmed.
   */
  async setCpuLevel(requested: unknown): Promise<void> {
    const { store } = this.deps;
    let level = parseCpuLevel(requested);
    if (level === null) {
      level = DEFAULT_CPU_LEVEL;
      this.addNote(`Unknown CPU use "${shownValue(requested)}"; using ${level}.`);
    }
    store.setState((s) => ({ cpu: { ...s.cpu, level, source: 'chosen' } }));
    if (store.getState().launch.forcedCpu !== null) this.deps.setCpuInUrl?.(level);
    if (this.writable) {
      const chosen = level;
      await updateState(this.deps.kv, (s) => ({ ...s, settings: { ...s.settings, cpu: chosen } })).catch(
        () => {},
      );
    }
    const peer = this.peer;
    if (!peer?.setCpu) return;
    try {
      const answer = await peer.setCpu(level);
      if (answer.note) this.addNote(answer.note);
      // A later choice may have been made meanwhile; the worker applies them in order, so the last answer wins.
      if (this.peer === peer) store.setState((s) => ({ cpu: { ...s.cpu, applied: answer.level } }));
    } catch (err) {
      this.addNote(`The CPU use could not be changed in the running worker (${errorText(err)}).`);
    }
  }

  private addNote(note: string): void {
    this.deps.store.setState((s) => ({ notes: [...s.notes, note] }));
  }

  async pause(): Promise<void> {
    await this.peer?.pause();
  }

  async resume(): Promise<void> {
    await this.peer?.resume();
  }

  /** Stops contributing and returns to the landing screen. */
  async stop(): Promise<void> {
    const peer = this.peer;
    if (!peer) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.flush();
    await this.saveHistory();
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.peer = null;
    if (this.saveTimer) clearInterval(this.saveTimer);
    this.saveTimer = null;
    await peer.stop();
    this.deps.store.setState((s) => ({
      phase: 'landing',
      snapshot: null,
      appError: null,
      peerThread: null,
      links: {},
      cpu: { ...s.cpu, applied: null },
    }));
  }

  private onSnapshot(snapshot: PeerSnapshot): void {
    this.pending = snapshot;
    if (this.flushTimer === null) this.flushTimer = setTimeout(() => this.flush(), SNAPSHOT_FLUSH_MS);
  }

  private flush(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const snap = this.pending;
    this.pending = null;
    const peer = this.peer;
    if (snap && peer)
      this.deps.store.setState((s) => ({
        ...reduceSnapshot(s, snap),
        links: linkViews(peer.links?.() ?? []),
      }));
  }

  private startSaving(): void {
    if (this.saveTimer) return;
    this.saveTimer = setInterval(() => void this.saveHistory(), HISTORY_SAVE_INTERVAL_MS);
  }

  /** Writes this room's chart history if it changed since the last write. */
  async saveHistory(): Promise<void> {
    if (!this.writable || this.slot === null) return;
    const { lossHistory, blockHistory, launch } = this.deps.store.getState();
    if (lossHistory === this.savedLoss && blockHistory === this.savedBlocks) return;
    this.savedLoss = lossHistory;
    this.savedBlocks = blockHistory;
    const key = historyKey(launch.room, this.slot);
    try {
      await updateState(this.deps.kv, (s) =>
        putHistory(s, key, { loss: lossHistory, blocks: blockHistory, updatedAtMs: Date.now() }),
      );
      this.deps.store.setState({ savedBlockCount: blockHistory.length });
    } catch {
      // Storage full or revoked: charts keep working, they just will not survive a reload.
    }
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
