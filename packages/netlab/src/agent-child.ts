/**
 * The child's side of an IPC agent (ipc-agent.ts is the parent's), shared by
 * wrtc-agent, mesh-agent, signaling-agent and train-agent: the parent's
 * messages go to `handle`, a handler's failure goes back as
 * `{ type: 'error' }`, the agent exits when the parent goes away, and it says
 * `ready` once listening. The messages every agent sends or takes this way
 * are declared here once; each agent's protocol file adds its own.
 */
import type { LinkInfo } from '@peerbench/mesh';

/** What every agent sends: `ready` once listening, `error` when a handler threw. */
export type AgentLifecycleMessage = { type: 'ready' } | { type: 'error'; message: string };

/**
 * What an agent that joins the network as a peer sends: `started` with its id
 * (IpcAgent.start waits for it), then every link event of its mesh and every
 * state of its signaling connection (connecting, connected, reconnecting, closed).
 */
export type PeerAgentMessage =
  | { type: 'started'; peerId: string }
  | { type: 'link'; info: LinkInfo; atMs: number }
  | { type: 'signaling'; state: string; atMs: number };

/** Asks an agent to stop what it runs and exit (see ServeParentOptions.stop). */
export interface AgentStop {
  type: 'stop';
}

export interface ServeParentOptions {
  /** Handle one message at a time, in arrival order (else each as it comes). */
  inOrder?: boolean;
  /**
   * On `{ type: 'stop' }`: run `stop` (close links, servers), then exit after
   * `exitGraceMs`, so the closes just made reach the network (and coturn) first.
   */
  stop?: { run(): Promise<unknown>; exitGraceMs: number };
}

export function serveParent<In extends { type: string }>(
  handle: (msg: Exclude<In, AgentStop>) => Promise<void>,
  opts: ServeParentOptions = {},
): void {
  const fail = (err: unknown): void => {
    const msg: AgentLifecycleMessage = { type: 'error', message: String(err) };
    process.send?.(msg);
  };
  const stop = opts.stop;
  let queue: Promise<void> = Promise.resolve();
  process.on('message', (raw: unknown) => {
    // Only our parent holds the IPC channel; it sends In objects.
    const msg = raw as In;
    const run = async (): Promise<void> => {
      if (stop && msg.type === 'stop') {
        await stop.run();
        exitSoon(stop.exitGraceMs);
      } else await handle(msg as Exclude<In, AgentStop>);
    };
    if (opts.inOrder) queue = queue.then(run).catch(fail);
    else run().catch(fail);
  });
  process.on('disconnect', () => process.exit(0));
  const ready: AgentLifecycleMessage = { type: 'ready' };
  process.send?.(ready);
}

/** Exits after `graceMs`, so the closes just made reach the network (and coturn) first. */
export function exitSoon(graceMs: number): void {
  setTimeout(() => process.exit(0), graceMs);
}
