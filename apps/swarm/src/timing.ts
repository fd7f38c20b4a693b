import type {
  BackwardOptions,
  ExpertHandlers,
  ExpertNetwork,
  ForwardOptions,
  Neighbourhood,
  NetworkEvent,
  WireTensor,
} from '@peerbench/mesh';
/**
 * Measures how much of a training step is spent waiting on RPC: an
 * ExpertNetwork decorator that tracks the time during which at least one of
 * the caller's forward calls is outstanding (the trainer sends them in
 * parallel and waits; in one process that includes the responder's compute).
 * Backward calls are fire-and-forget in the trainer, so they never block a
 * step and are not counted. It also sums the time spent inside every
 * participant's serving handlers (forward answers, applying remote
 * gradients) during training steps: the part of the wait that is other
 * peers' compute rather than transport.
 */

export class RpcClock {
  /** Only forwards made while counting are timed (training steps, not evaluations). */
  counting = false;
  private outstanding = 0;
  private since = 0;
  totalMs = 0;
  /** Time inside serving handlers (forward and backward) while counting. */
  servingMs = 0;

  begin(): void {
    if (!this.counting) return;
    if (this.outstanding++ === 0) this.since = performance.now();
  }

  end(counted: boolean): void {
    if (!counted) return;
    if (--this.outstanding === 0) this.totalMs += performance.now() - this.since;
  }
}

export class TimedNetwork implements ExpertNetwork {
  constructor(
    private readonly inner: ExpertNetwork,
    private readonly clock: RpcClock,
  ) {}

  get selfId(): string {
    return this.inner.selfId;
  }

  peers(): string[] {
    return this.inner.peers();
  }

  /** The inner network's bounded neighbourhood (issue 14), when it has one. */
  get neighbourhood(): Neighbourhood | undefined {
    return this.inner.neighbourhood;
  }

  async forward(peerId: string, x: WireTensor, opts: ForwardOptions): Promise<WireTensor> {
    const counted = this.clock.counting;
    this.clock.begin();
    try {
      return await this.inner.forward(peerId, x, opts);
    } finally {
      this.clock.end(counted);
    }
  }

  backward(peerId: string, grad: WireTensor, opts: BackwardOptions): Promise<void> {
    return this.inner.backward(peerId, grad, opts);
  }

  serve(handlers: ExpertHandlers): () => void {
    const clock = this.clock;
    const timed = async <T>(run: () => Promise<T>): Promise<T> => {
      const counted = clock.counting;
      const t0 = performance.now();
      try {
        return await run();
      } finally {
        if (counted) clock.servingMs += performance.now() - t0;
      }
    };
    return this.inner.serve({
      forward: (from, id, x, signal) => timed(() => handlers.forward(from, id, x, signal)),
      backward: (from, id, grad, signal) => timed(() => handlers.backward(from, id, grad, signal)),
    });
  }

  ping(peerId: string): Promise<number> {
    if (!this.inner.ping) return Promise.reject(new Error('this transport cannot ping'));
    return this.inner.ping(peerId);
  }

  on(event: NetworkEvent, cb: (peerId: string) => void): () => void {
    return this.inner.on ? this.inner.on(event, cb) : () => undefined;
  }
}
