/**
 * Drivers for the lab's mesh agents: `LabSignaling` runs the real signaling
 * server in a namespace (the public segment), `MeshPeer` runs a real PeerMesh
 * in a host and follows its link events. Tests then assert on what the mesh
 * itself reports (connection type, failed links, fresh credentials).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LinkInfo } from '@peerbench/mesh';
import type { SignalingMetrics } from '@peerbench/signaling-server';
import { NetlabError } from './errors.js';
import { IpcAgent } from './ipc-agent.js';
import type { Namespace } from './lab.js';
import type {
  FromMeshAgent,
  FromSignalingAgent,
  MeshAgentStart,
  SignalingAgentConfig,
  ToMeshAgent,
  ToSignalingAgent,
} from './mesh-agent-protocol.js';

const SRC_DIR = dirname(fileURLToPath(import.meta.url));
/** The package folder: `--import tsx` resolves from here. */
const PACKAGE_DIR = dirname(SRC_DIR);
const REPLY_TIMEOUT_MS = 15_000;

export class LabSignaling {
  private constructor(
    private readonly agent: IpcAgent<ToSignalingAgent, FromSignalingAgent>,
    /** ws://host:port, reachable from the lab's hosts. */
    readonly url: string,
  ) {}

  static async start(ns: Namespace, config: SignalingAgentConfig): Promise<LabSignaling> {
    const agent = await IpcAgent.spawn<ToSignalingAgent, FromSignalingAgent>(
      ns,
      join(SRC_DIR, 'signaling-agent.ts'),
      PACKAGE_DIR,
    );
    agent.post({ type: 'start', config });
    const reply = await agent.waitFor((m) => m.type === 'listening' || m.type === 'error', REPLY_TIMEOUT_MS);
    if (reply.type !== 'listening') {
      await agent.stop();
      throw new NetlabError('command-failed', `signaling server did not start: ${JSON.stringify(reply)}`);
    }
    return new LabSignaling(agent, reply.url);
  }

  /** The server's metrics() now. */
  async metrics(): Promise<SignalingMetrics> {
    const before = this.agent.events.length;
    const wait = this.agent.waitFor(
      (m) => m.type === 'metrics' && this.agent.events.indexOf(m) >= before,
      REPLY_TIMEOUT_MS,
    );
    this.agent.post({ type: 'metrics' });
    const reply = await wait;
    if (reply.type !== 'metrics') throw new NetlabError('command-failed', 'no metrics');
    return reply.metrics;
  }

  stop(): Promise<void> {
    return this.agent.stop({ type: 'stop' });
  }
}

export class MeshPeer {
  private nextRequestId = 1;

  private constructor(
    readonly agent: IpcAgent<ToMeshAgent, FromMeshAgent>,
    readonly peerId: string,
  ) {}

  /** Starts a PeerMesh in ns and joins the room; resolves once the server welcomed it. */
  static async start(ns: Namespace, opts: Omit<MeshAgentStart, 'type'>): Promise<MeshPeer> {
    const start = { type: 'start' as const, ...opts };
    const started = await IpcAgent.start<ToMeshAgent, FromMeshAgent>(
      ns,
      'mesh-agent.ts',
      start,
      REPLY_TIMEOUT_MS,
    );
    return new MeshPeer(started.agent, started.peerId);
  }

  /** Every link event the mesh emitted for `peerId`, in order. */
  linkEvents(peerId: string): LinkInfo[] {
    return this.agent.events.flatMap((m) => (m.type === 'link' && m.info.peerId === peerId ? [m.info] : []));
  }

  /** The first link event for `peerId` (past or future) matching pred. */
  async waitForLink(peerId: string, pred: (info: LinkInfo) => boolean, timeoutMs: number): Promise<LinkInfo> {
    const msg = await this.agent.waitFor(
      (m) => m.type === 'link' && m.info.peerId === peerId && pred(m.info),
      timeoutMs,
    );
    if (msg.type !== 'link') throw new NetlabError('command-failed', 'not a link event');
    return msg.info;
  }

  /** Round trip over the data channel to peerId (ms), or the error the mesh gave. */
  async ping(peerId: string): Promise<number> {
    const requestId = this.nextRequestId++;
    const wait = this.agent.waitFor((m) => m.type === 'pong' && m.requestId === requestId, REPLY_TIMEOUT_MS);
    this.agent.post({ type: 'ping', requestId, peerId });
    const reply = await wait;
    if (reply.type !== 'pong' || reply.rttMs === null)
      throw new NetlabError('command-failed', `ping failed: ${JSON.stringify(reply)}`);
    return reply.rttMs;
  }

  errors(): string[] {
    return this.agent.events.flatMap((m) => (m.type === 'error' ? [m.message] : []));
  }

  /** Stops the mesh (closing its links, so coturn frees their allocations) and waits for the agent to exit. */
  stop(): Promise<void> {
    return this.agent.stop({ type: 'stop' });
  }
}
