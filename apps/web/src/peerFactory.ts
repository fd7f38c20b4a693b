/**
 * Creates the browser Peer, in a worker by default (workerPeer.ts) or on the
 * page's main thread (`?worker=0`, or automatically when the worker cannot
 * start — the person is told). Either way the WebRTC mesh and its signaling
 * socket live here on the main thread (RTCPeerConnection does not exist in
 * workers), and the returned handle overlays the signaling connection's state
 * onto the Peer's snapshots, since the Peer itself only knows whether it has
 * a network at all.
 */

// Only the mesh and the worker bridges here: the page's bundle does not load
// tfjs unless the Peer has to run on the main thread (mainThreadPeer.ts, loaded on demand).
import type { PeerFactory } from './runtime.js';
import { createWorkerPeer } from './workerPeer.js';

/**
 * The app's factory: the worker unless `?worker=0`; when the worker cannot
 * start (no module workers, a load error, no answer in time) the main-thread
 * Peer, and a note saying why the page may stutter.
 */
export function createPeerFactory(useWorker: boolean): PeerFactory {
  return async (options) => {
    const mainThread = async () => (await import('./mainThreadPeer.js')).createMainThreadPeer(options);
    if (!useWorker) return mainThread();
    try {
      return await createWorkerPeer(options);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      options.notify?.(
        `Training could not start in a background worker (${why}), so it runs on this page instead; the page may stutter while it trains.`,
      );
      return mainThread();
    }
  };
}
