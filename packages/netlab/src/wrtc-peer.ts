/**
 * Drives a wrtc agent (one RTCPeerConnection in a lab namespace) from the
 * test process over Node IPC, which survives `ip netns exec` (it only execs).
 * The test process is also the signaling channel: `pipeSignals(a, b)` hands
 * each side's descriptions and candidates to the other.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SelectedPair } from '@peerbench/mesh';
import type { AgentConfig, FromAgent, ToAgent } from './agent-protocol.js';
import { NetlabError } from './errors.js';
import type { Namespace } from './lab.js';
import type { LabProcess } from './process.js';

const SRC_DIR = dirname(fileURLToPath(import.meta.url));
const AGENT_SCRIPT = join(SRC_DIR, 'wrtc-agent.ts');
/** The package folder: `--import tsx` resolves from here. */
const PACKAGE_DIR = dirname(SRC_DIR);
/** Starting node + tsx + wrtc takes ~1 s on an idle core; the machine may be loaded. */
export const AGENT_START_TIMEOUT_MS = 20_000;
/** After `close`, how long the agent gets to exit before it is killed. */
const AGENT_CLOSE_GRACE_MS = 3_000;

type Listener = (msg: FromAgent) => void;

export class WrtcPeer {
  /** Every message the agent sent, in order. */
  readonly events: FromAgent[] = [];
  private readonly listeners = new Set<Listener>();
  private nextRequestId = 1;

  private constructor(
    readonly ns: Namespace,
    readonly process: LabProcess,
  ) {
    process.child.on('message', (raw) => {
      const msg = raw as FromAgent;
      this.events.push(msg);
      for (const l of this.listeners) l(msg);
    });
  }

  /** Starts the agent in ns; resolves when it is ready for `open`. */
  static async start(ns: Namespace): Promise<WrtcPeer> {
    const proc = ns.spawn([process.execPath, '--import', 'tsx', AGENT_SCRIPT], {
      ipc: true,
      cwd: PACKAGE_DIR,
    });
    const peer = new WrtcPeer(ns, proc);
    const ready = peer.waitFor((m) => m.type === 'ready', AGENT_START_TIMEOUT_MS);
    const exitedFirst = await Promise.race([ready.then(() => false), proc.exited.then(() => true)]);
    if (exitedFirst) {
      ready.catch(() => {}); // its timeout would otherwise reject unhandled
      throw new NetlabError('command-failed', `wrtc agent exited at start: ${proc.tail()}`);
    }
    return peer;
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  post(msg: ToAgent): void {
    if (this.process.running && this.process.child.connected) this.process.child.send(msg);
  }

  /** Creates the connection; the initiator makes the data channel and the offer. echo: bounce messages back. */
  open(config: AgentConfig, initiator: boolean, echo = false, connectTimeoutMs?: number): void {
    this.post({ type: 'open', config, initiator, echo, ...(connectTimeoutMs ? { connectTimeoutMs } : {}) });
  }

  /** ICE restart from this side (the initiator): same connection and channel, new ICE checks. */
  restartIce(): void {
    this.post({ type: 'restart-ice' });
  }

  send(text: string): void {
    this.post({ type: 'send', text });
  }

  /** The first message (already received or future) matching pred; rejects after timeoutMs. */
  waitFor(pred: (m: FromAgent) => boolean, timeoutMs: number): Promise<FromAgent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        const last = this.events.slice(-6).map((m) => JSON.stringify(m).slice(0, 160));
        reject(
          new NetlabError(
            'timeout',
            `agent in ${this.ns.label}: nothing matching within ${timeoutMs} ms; last events: ${last.join(' ')}`,
          ),
        );
      }, timeoutMs);
      const off = this.on((m) => {
        if (!pred(m)) return;
        clearTimeout(timer);
        off();
        resolve(m);
      });
    });
  }

  /** What the agent reported as failed (a signal it could not apply, …): empty when all went well. */
  errors(): string[] {
    return this.events.flatMap((m) => (m.type === 'error' ? [m.message] : []));
  }

  /** The connection's selected candidate pair (see ice-stats.ts), or null. */
  async selectedPair(timeoutMs = 5_000): Promise<SelectedPair | null> {
    const requestId = this.nextRequestId++;
    const wait = this.waitFor((m) => m.type === 'stats' && m.requestId === requestId, timeoutMs);
    this.post({ type: 'stats', requestId });
    const reply = await wait;
    return reply.type === 'stats' ? reply.selected : null;
  }

  /** Closes the connection (so coturn frees its allocation) and waits for the agent to exit. */
  async close(): Promise<void> {
    this.post({ type: 'close' });
    const timer = setTimeout(() => this.process.kill('SIGKILL'), AGENT_CLOSE_GRACE_MS);
    await this.process.exited;
    clearTimeout(timer);
  }
}

/** Relays a's signals to b and b's to a; returns a function that stops relaying. */
export function pipeSignals(a: WrtcPeer, b: WrtcPeer): () => void {
  const offA = a.on((m) => {
    if (m.type === 'signal') b.post({ type: 'signal', signal: m.signal });
  });
  const offB = b.on((m) => {
    if (m.type === 'signal') a.post({ type: 'signal', signal: m.signal });
  });
  return () => {
    offA();
    offB();
  };
}
