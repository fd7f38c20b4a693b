/**
 * The child's side of an IPC agent (ipc-agent.ts is the parent's), shared by
 * wrtc-agent, mesh-agent and signaling-agent: the parent's messages go to
 * `handle`, a handler's failure goes back as `{ type: 'error' }`, the agent
 * exits when the parent goes away, and it says `ready` once listening.
 */

export interface ServeParentOptions {
  /** Handle one message at a time, in arrival order (else each as it comes). */
  inOrder?: boolean;
}

export function serveParent<In>(handle: (msg: In) => Promise<void>, opts: ServeParentOptions = {}): void {
  const fail = (err: unknown): void => {
    process.send?.({ type: 'error', message: String(err) });
  };
  let queue: Promise<void> = Promise.resolve();
  process.on('message', (raw: unknown) => {
    // Only our parent holds the IPC channel; it sends In objects.
    const run = () => handle(raw as In);
    if (opts.inOrder) queue = queue.then(run).catch(fail);
    else run().catch(fail);
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' });
}

/** Exits after `graceMs`, so the closes just made reach the network (and coturn) first. */
export function exitSoon(graceMs: number): void {
  setTimeout(() => process.exit(0), graceMs);
}
