/**
 * A Node child process in a lab namespace driven over Node IPC (which
 * survives `ip netns exec`, since that only execs): messages in order, each
 * kept for later assertions, `waitFor` with a bound. The mesh peer and the
 * signaling server of the lab (mesh-peer.ts) are such agents.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetlabError } from './errors.js';
import type { Namespace } from './lab.js';
import type { LabProcess } from './process.js';

/** This package's src/ (the agents' scripts) and its folder (where `--import tsx` resolves). */
const SRC_DIR = dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = dirname(SRC_DIR);

/** Starting node + tsx + the agent's imports takes ~1-2 s on an idle core; the machine may be loaded. */
export const IPC_AGENT_START_TIMEOUT_MS = 30_000;
/** After asking an agent to stop, how long it gets to exit before it is killed. */
export const IPC_AGENT_STOP_GRACE_MS = 5_000;

export class IpcAgent<In extends object, Out extends { type: string }> {
  /** Every message the agent sent, in order. */
  readonly events: Out[] = [];
  private readonly listeners = new Set<(msg: Out) => void>();

  constructor(
    readonly ns: Namespace,
    readonly process: LabProcess,
  ) {
    process.child.on('message', (raw) => {
      const msg = raw as Out;
      this.events.push(msg);
      for (const l of this.listeners) l(msg);
    });
  }

  /** Spawns `node --import tsx script` in ns (resolving from cwd) and waits for its `ready`. */
  static async spawn<In extends object, Out extends { type: string }>(
    ns: Namespace,
    script: string,
    cwd: string,
    startTimeoutMs = IPC_AGENT_START_TIMEOUT_MS,
  ): Promise<IpcAgent<In, Out>> {
    const proc = ns.spawn([process.execPath, '--import', 'tsx', script], { ipc: true, cwd });
    const agent = new IpcAgent<In, Out>(ns, proc);
    const ready = agent.waitFor((m) => m.type === 'ready', startTimeoutMs);
    const exitedFirst = await Promise.race([ready.then(() => false), proc.exited.then(() => true)]);
    if (exitedFirst) {
      ready.catch(() => {});
      throw new NetlabError('command-failed', `agent ${script} exited at start: ${proc.tail()}`);
    }
    return agent;
  }

  /**
   * Spawns one of this package's agents (`script`: a file in src/), posts its
   * `start` message and waits for `started` (or `error`); stops the agent and
   * throws when it does not start. Returns the agent and the peer id it reported.
   */
  static async start<In extends object, Out extends { type: string }>(
    ns: Namespace,
    script: string,
    start: In,
    timeoutMs: number,
  ): Promise<{ agent: IpcAgent<In, Out>; peerId: string }> {
    const spawnMs = Math.max(timeoutMs, IPC_AGENT_START_TIMEOUT_MS);
    const agent = await IpcAgent.spawn<In, Out>(ns, join(SRC_DIR, script), PACKAGE_DIR, spawnMs);
    agent.post(start);
    const reply = await agent
      .waitFor((m) => m.type === 'started' || m.type === 'error', timeoutMs)
      .catch(async (err: unknown) => {
        await agent.stop();
        throw err;
      });
    const peerId = (reply as { peerId?: unknown }).peerId;
    if (reply.type !== 'started' || typeof peerId !== 'string') {
      await agent.stop();
      throw new NetlabError('command-failed', `agent ${script} did not start: ${JSON.stringify(reply)}`);
    }
    return { agent, peerId };
  }

  on(listener: (msg: Out) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  post(msg: In): void {
    if (this.process.running && this.process.child.connected) this.process.child.send(msg);
  }

  /** The first message (already received or future) matching pred; rejects after timeoutMs. */
  waitFor<M extends Out>(pred: (m: Out) => m is M, timeoutMs: number): Promise<M>;
  waitFor(pred: (m: Out) => boolean, timeoutMs: number): Promise<Out>;
  waitFor(pred: (m: Out) => boolean, timeoutMs: number): Promise<Out> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        const last = this.events.slice(-6).map((m) => JSON.stringify(m).slice(0, 200));
        reject(
          new NetlabError(
            'timeout',
            `agent in ${this.ns.label}: nothing matching within ${timeoutMs} ms; last events: ${last.join(' ')}; output: ${this.process.tail()}`,
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

  /** Sends `msg` (if given), then waits for the agent to exit, killing it after the grace. */
  async stop(msg?: In): Promise<void> {
    if (msg) this.post(msg);
    else this.process.child.disconnect?.();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), IPC_AGENT_STOP_GRACE_MS);
    await this.process.exited;
    clearTimeout(timer);
  }
}
