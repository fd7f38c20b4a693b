/**
 * How a participant reaches the other experts: forward(x) → f_j(x) and
 * backward(∂L/∂f_j(x)). The interface is async so a WebRTC transport fits;
 * MemoryNetwork calls the responder directly (many peers in one process,
 * deterministic order), copying buffers as a wire would so no participant
 * can alias another's memory.
 */

export class PeerOfflineError extends Error {
  readonly code = 'peer-offline';
  constructor(readonly peer: number) {
    super(`peer ${peer} is offline`);
    this.name = 'PeerOfflineError';
  }
}

/** What a responder serves. `rows` examples of 784 pixels in, rows × d out. */
export interface ExpertHandler {
  forward(from: number, x: Float32Array, rows: number): Float32Array;
  /** Applies (or refuses) the caller's gradient w.r.t. the answer it got for x. */
  backward(from: number, x: Float32Array, rows: number, grad: Float32Array): void;
}

export interface ExpertNetwork {
  forward(from: number, to: number, x: Float32Array, rows: number): Promise<Float32Array>;
  backward(from: number, to: number, x: Float32Array, rows: number, grad: Float32Array): Promise<void>;
}

export interface NetworkTiming {
  calls: number;
  /** Wall time inside forward/backward calls, as the caller sees it. */
  callMs: number;
  /** Of callMs, the time the responders spent computing. */
  handlerMs: number;
}

export class MemoryNetwork implements ExpertNetwork {
  private readonly handlers = new Map<number, ExpertHandler>();
  readonly timing: NetworkTiming = { calls: 0, callMs: 0, handlerMs: 0 };

  register(peer: number, handler: ExpertHandler): void {
    this.handlers.set(peer, handler);
  }

  /** The peer leaves: later calls to it fail with PeerOfflineError. */
  unregister(peer: number): void {
    this.handlers.delete(peer);
  }

  async forward(from: number, to: number, x: Float32Array, rows: number): Promise<Float32Array> {
    const t0 = performance.now();
    const h = this.handlers.get(to);
    if (!h) throw new PeerOfflineError(to);
    const t1 = performance.now();
    const out = h.forward(from, x.slice(), rows);
    const t2 = performance.now();
    const copy = out.slice();
    this.timing.calls++;
    this.timing.handlerMs += t2 - t1;
    this.timing.callMs += performance.now() - t0;
    return copy;
  }

  async backward(from: number, to: number, x: Float32Array, rows: number, grad: Float32Array): Promise<void> {
    const t0 = performance.now();
    const h = this.handlers.get(to);
    if (!h) throw new PeerOfflineError(to);
    const t1 = performance.now();
    h.backward(from, x.slice(), rows, grad.slice());
    const t2 = performance.now();
    this.timing.calls++;
    this.timing.handlerMs += t2 - t1;
    this.timing.callMs += t2 - t0;
  }
}
