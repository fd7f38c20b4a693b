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
import { IpcAgent } from './ipc-agent.js';
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

/** One wrtc agent: an IpcAgent (ipc-agent.ts) speaking agent-protocol.ts. */
export class WrtcPeer {
  private nextRequestId = 1;

  private constructor(private readonly agent: IpcAgent<ToAgent, FromAgent>) {}

  /** Starts the agent in ns; resolves when it is ready for `open`. */
  static async start(ns: Namespace): Promise<WrtcPeer> {
    return new WrtcPeer(
      await IpcAgent.spawn<ToAgent, FromAgent>(ns, AGENT_SCRIPT, PACKAGE_DIR, AGENT_START_TIMEOUT_MS),
    );
  }

  /** Every message the agent sent, in order. */
  get events(): FromAgent[] {
    return this.agent.events;
  }

  get ns(): Namespace {
    return this.agent.ns;
  }

  get process(): LabProcess {
    return this.agent.process;
  }

  on(listener: Listener): () => void {
    return this.agent.on(listener);
  }

  post(msg: ToAgent): void {
    this.agent.post(msg);
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
    return this.agent.waitFor(pred, timeoutMs);
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
