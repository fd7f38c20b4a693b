/**
 * The driver of a training agent (train-agent.ts): a real Peer training on
 * the real network stack inside a lab host. The test process starts it,
 * lets it train until a deadline, and reads back its step records and link
 * events.
 */
import type { LinkInfo } from '@peerbench/mesh';
import { NetlabError } from './errors.js';
import { IpcAgent } from './ipc-agent.js';
import type { Namespace } from './lab.js';
import type { FromTrainAgent, StepRecord, ToTrainAgent, TrainAgentStart } from './train-agent-protocol.js';

/** tfjs + WASM + the MNIST digits + joining the room: a few seconds each, more with four on two loaded cores. */
export const TRAIN_AGENT_START_TIMEOUT_MS = 90_000;

type Done = Extract<FromTrainAgent, { type: 'done' }>;

export class TrainPeer {
  private constructor(
    readonly agent: IpcAgent<ToTrainAgent, FromTrainAgent>,
    readonly peerId: string,
  ) {}

  /** Starts the agent in ns, joins the room, creates and starts the Peer (no step yet). */
  static async start(ns: Namespace, opts: Omit<TrainAgentStart, 'type'>): Promise<TrainPeer> {
    const start = { type: 'start' as const, ...opts };
    const { agent, peerId } = await IpcAgent.start<ToTrainAgent, FromTrainAgent>(
      ns,
      'train-agent.ts',
      start,
      TRAIN_AGENT_START_TIMEOUT_MS,
    );
    return new TrainPeer(agent, peerId);
  }

  /** Trains until untilMs (epoch ms) or maxSteps steps; resolves with the agent's summary. */
  async run(untilMs: number, pauseMs: number, slackMs: number, maxSteps?: number): Promise<Done> {
    this.agent.post({ type: 'run', untilMs, pauseMs, ...(maxSteps !== undefined ? { maxSteps } : {}) });
    const done = await this.agent.waitFor(
      (m): m is Done => m.type === 'done',
      Math.max(0, untilMs - Date.now()) + slackMs,
    );
    return done;
  }

  /** The uid the ledger gave this peer, once it has one (past or future). */
  async registered(timeoutMs: number): Promise<number> {
    const m = await this.agent.waitFor((e) => e.type === 'registered', timeoutMs);
    if (m.type !== 'registered') throw new NetlabError('command-failed', 'not registered');
    return m.uid;
  }

  /** The peers this one's mesh reports connected now (its latest link event per peer). */
  connectedPeers(): string[] {
    const last = new Map<string, LinkInfo>();
    for (const m of this.agent.events) if (m.type === 'link') last.set(m.info.peerId, m.info);
    return [...last.values()].filter((l) => l.state === 'connected').map((l) => l.peerId);
  }

  /** Every link event of this peer's mesh, with the epoch ms it was seen. */
  linkEvents(): Array<{ info: LinkInfo; atMs: number }> {
    return this.agent.events.flatMap((m) => (m.type === 'link' ? [{ info: m.info, atMs: m.atMs }] : []));
  }

  /** The signaling connection's states, with the epoch ms each was entered. */
  signalingStates(): Array<{ state: string; atMs: number }> {
    return this.agent.events.flatMap((m) =>
      m.type === 'signaling' ? [{ state: m.state, atMs: m.atMs }] : [],
    );
  }

  steps(): StepRecord[] {
    return this.agent.events.flatMap((m) => (m.type === 'step' ? [m.record] : []));
  }

  errors(): string[] {
    return this.agent.events.flatMap((m) => (m.type === 'error' ? [m.message] : []));
  }

  /** Ends the loop after its current step, stops the Peer and the network, waits for the agent to exit. */
  stop(): Promise<void> {
    return this.agent.stop({ type: 'stop' });
  }
}
