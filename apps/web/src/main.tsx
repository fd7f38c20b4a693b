// Must stay the first import: installs globals the mesh's dependencies use at load time.
import './node-globals.js';
import { createStore as createIdbStore, get, set, update } from 'idb-keyval';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { browserProbeEnv } from './backendProbe.js';
import { parseLaunchConfig, shareUrlFor, urlWithCpu, urlWithRoom } from './config.js';
import { createPeerFactory } from './peerFactory.js';
import { markTrainingStarted, startPerfRecorder } from './perf.js';
import type { KeyValueStore } from './persistence.js';
import { AppRuntime } from './runtime.js';
import { fetchServerConfig } from './serverConfig.js';
import { type AppStore, createAppStore, initialAppState } from './store.js';
import { App } from './ui/App.js';
import { AppContext } from './ui/context.js';
import { prewarmPeerWorker } from './workerPeer.js';
import './styles.css';

declare global {
  interface Window {
    /** The store and runtime, for the e2e suite and for curious people in devtools. */
    __peerbench?: { store: AppStore; runtime: AppRuntime };
  }
}

startPerfRecorder();

// The app's own database; the Peer keeps its model in per-slot databases (peerFactory.ts).
const idb = createIdbStore('peerbench-app', 'kv');
const kv: KeyValueStore = {
  get: (key) => get(key, idb),
  set: (key, value) => set(key, value, idb),
  update: (key, fn) => update(key, fn, idb),
};

async function boot() {
  const pageUrl = new URL(window.location.href);
  // A bare URL joins the server's public room: ask the server its name and D (checked by parseLaunchConfig).
  const server = await fetchServerConfig(parseLaunchConfig(pageUrl).serverUrl);
  const launch = parseLaunchConfig(pageUrl, server);
  // Loads the Peer's code now (its worker, or with ?worker=0 the main-thread module), so Contribute
  // finds it even if the server goes away meanwhile.
  const peerCodeLoaded = launch.useWorker
    ? prewarmPeerWorker()
    : import('./mainThreadPeer.js').then(() => undefined);
  const store = createAppStore(initialAppState(launch, shareUrlFor(pageUrl, launch.room)));
  const runtime = new AppRuntime({
    store,
    kv,
    createPeer: createPeerFactory(launch.useWorker),
    probeEnv: browserProbeEnv(launch.useWorker ? 'worker' : 'main'),
    wasmPaths: `${import.meta.env.BASE_URL}tfjs-wasm/`,
    webrtcAvailable: typeof RTCPeerConnection === 'function',
    peerCodeLoaded,
    setCpuInUrl: (level) => {
      const next = urlWithCpu(new URL(window.location.href), level);
      if (next !== window.location.href) window.history.replaceState(null, '', next);
    },
    setRoomInUrl: (room) => {
      const next = urlWithRoom(new URL(window.location.href), room);
      if (next !== window.location.href) window.history.replaceState(null, '', next);
    },
  });
  window.__peerbench = { store, runtime };
  const offTraining = store.subscribe((s) => {
    if (s.snapshot?.status === 'running' && s.snapshot.step > 0) {
      markTrainingStarted();
      offTraining();
    }
  });
  window.addEventListener('pagehide', () => void runtime.saveHistory());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') void runtime.saveHistory();
  });

  const root = document.getElementById('root');
  if (!root) throw new Error('#root missing from index.html');
  createRoot(root).render(
    <StrictMode>
      <AppContext.Provider value={{ store, runtime }}>
        <App />
      </AppContext.Provider>
    </StrictMode>,
  );
  await runtime.init();
}

void boot();
