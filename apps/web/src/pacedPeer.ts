/**
 * The worker's training loop, paced by how long a step takes. A worker never
 * blocks the page's event loop, but a worker training flat out takes a whole
 * core, and the page's main thread — relaying every expert call over WebRTC
 * and drawing the charts — then waits for CPU, which is what turns its small
 * tasks into long ones (measured: 3 tabs on 2 cores, 100 ms between steps →
 * ~40 long tasks/min on each page; 250 ms → none in 15 s, with the same
 * number of steps, since the cores were the limit either way). Resting
 * `restPerStep` × the last step's duration keeps a tab's worker at a fixed
 * share of a core on any device (3 → a quarter): a 5 ms WebGPU step rests
 * 20 ms (the floor), a 120 ms WASM step 360 ms. In the e2e run, rest 2× gave
 * ~9 long tasks/min per page in steady state, 3× ~4 (bench-results/web.json).
 * WORKER_PACE (3×) is the default; the person chooses another share of the
 * machine with the "CPU use" setting (cpuUse.ts), applied live by `setPace`.
 *
 * It drives a Peer created with `autoRun: false` (the Peer's own loop has a
 * fixed pause) through the same surface hostPeer uses.
 */
import type { PeerSnapshot } from '@peerbench/peer';
import type { HostedPeer } from '@peerbench/peer/worker';

export interface Pace {
  /** Rest after a step, as a multiple of that step's wall time (3 → the worker is busy a quarter of the time). */
  restPerStep: number;
  minRestMs: number;
  maxRestMs: number;
}

export const WORKER_PACE: Pace = { restPerStep: 3, minRestMs: 20, maxRestMs: 2000 };

export function restAfter(stepMs: number, pace: Pace): number {
  if (!Number.isFinite(stepMs) || stepMs < 0) return pace.maxRestMs;
  return Math.min(pace.maxRestMs, Math.max(pace.minRestMs, stepMs * pace.restPerStep));
}

/** What the loop needs from the Peer (packages/peer's Peer with autoRun: false). */
export interface SteppablePeer extends HostedPeer {
  step(): Promise<unknown>;
}

export class PacedPeer implements HostedPeer {
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private stepError: { code: string; message: string } | null = null;
  private running = false;
  /** Last rest chosen (ms), for tests and curious people. */
  lastRestMs = 0;

  private pace: Pace;

  constructor(
    private readonly peer: SteppablePeer,
    pace: Pace = WORKER_PACE,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.pace = pace;
  }

  /** The pace in use. */
  getPace(): Pace {
    return this.pace;
  }

  /**
   * Changes the pace of a running loop (the "CPU use" setting): the rest after
   * the next step follows it. A rest in progress is cut short when the new
   * pace would not rest that long, so a move to a faster level shows at once.
   */
  setPace(pace: Pace): void {
    const slower = pace.restPerStep > this.pace.restPerStep || pace.minRestMs > this.pace.minRestMs;
    this.pace = pace;
    if (!slower) this.wake?.();
  }

  getSnapshot(): PeerSnapshot {
    const s = this.peer.getSnapshot();
    // The Peer's own loop reports a failing step in its snapshot; this loop does the same.
    return this.stepError && !s.error ? { ...s, error: this.stepError } : s;
  }

  subscribe(cb: (s: PeerSnapshot) => void): () => void {
    return this.peer.subscribe(() => cb(this.getSnapshot()));
  }

  async start(): Promise<void> {
    await this.peer.start();
    if (this.loop) return;
    this.running = true;
    this.loop = this.run();
  }

  pause(): void | Promise<void> {
    return this.peer.pause();
  }

  async resume(): Promise<void> {
    await this.peer.resume();
    this.wake?.();
  }

  /** Ends the loop (after the step in progress) before the Peer stops and disposes its model. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = null;
    await this.peer.stop();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      const status = this.peer.getSnapshot().status;
      if (status !== 'running' && status !== 'paused') break;
      if (status === 'paused') {
        await this.sleep(this.pace.maxRestMs);
        continue;
      }
      const t0 = this.now();
      try {
        await this.peer.step();
        this.stepError = null;
      } catch (err) {
        // A step only fails on a local fault (e.g. a lost GPU context): report it and keep going.
        this.stepError = { code: 'step-failed', message: err instanceof Error ? err.message : String(err) };
      }
      this.lastRestMs = restAfter(this.now() - t0, this.pace);
      if (this.running) await this.sleep(this.lastRestMs);
    }
    this.wake = null;
    this.loop = null;
  }
}
