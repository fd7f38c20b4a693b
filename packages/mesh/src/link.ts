/**
 * A Link is one ordered, reliable, message-oriented pipe to one remote peer:
 * the only thing the RPC layer needs from WebRTC. Keeping it this small lets
 * the same RPC code (and the same compliance tests) run over an in-memory
 * pair in microseconds and over real RTCDataChannels.
 */

export interface LinkListener {
  /** One frame arrived (never larger than the sender's frame). */
  frame(data: Uint8Array): void;
  /** The link closed (either side, or the transport failed). Fires once. */
  close(reason: string): void;
  /** bufferedAmount fell to or below `lowWaterBytes`: the sender may write again. */
  drain(): void;
}

export interface Link {
  readonly remotePeerId: string;
  readonly isOpen: boolean;
  /** Bytes handed to `send` and not yet put on the wire. */
  readonly bufferedAmount: number;
  /** `drain` fires when bufferedAmount falls to this. */
  lowWaterBytes: number;
  /**
   * Whether `drain` events fire at all. @roamhq/wrtc implements neither
   * bufferedAmountLowThreshold nor 'bufferedamountlow', so senders must poll.
   */
  readonly drainEvents: boolean;
  send(frame: Uint8Array): void;
  close(reason?: string): void;
  /** Replaces the listener; frames that arrived before one was set are queued and delivered then. */
  setListener(listener: LinkListener): void;
}

export class LinkClosedError extends Error {
  readonly code = 'link-closed';
  constructor(message = 'link is closed') {
    super(message);
    this.name = 'LinkClosedError';
  }
}

const schedule: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => setTimeout(fn, 0);

/**
 * In-memory link end. Frames are copied (so a sender reusing buffers cannot
 * corrupt the receiver) and delivered in a later macrotask, in batches, with a
 * bufferedAmount that rises on send and falls on delivery — enough to drive
 * the same backpressure code paths as a data channel.
 */
class MemoryLink implements Link {
  peer: MemoryLink | undefined;
  lowWaterBytes = 0;
  readonly drainEvents = true;
  private listener: LinkListener | undefined;
  private early: Uint8Array[] = [];
  private outbox: Uint8Array[] = [];
  private buffered = 0;
  private open = true;
  private flushing = false;

  constructor(
    readonly remotePeerId: string,
    private readonly deliverBatchBytes: number,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  get bufferedAmount(): number {
    return this.buffered;
  }

  setListener(listener: LinkListener): void {
    this.listener = listener;
    const early = this.early;
    this.early = [];
    for (const f of early) listener.frame(f);
  }

  send(frame: Uint8Array): void {
    if (!this.open) throw new LinkClosedError();
    this.outbox.push(frame.slice());
    this.buffered += frame.length;
    if (!this.flushing) {
      this.flushing = true;
      schedule(() => this.flush());
    }
  }

  private flush(): void {
    this.flushing = false;
    let budget = this.deliverBatchBytes;
    while (this.outbox.length > 0 && budget > 0 && this.open) {
      const f = this.outbox.shift()!;
      budget -= f.length;
      this.buffered -= f.length;
      this.peer?.receive(f);
    }
    if (this.outbox.length > 0 && this.open) {
      this.flushing = true;
      schedule(() => this.flush());
    }
    if (this.buffered <= this.lowWaterBytes) this.listener?.drain();
  }

  receive(frame: Uint8Array): void {
    if (!this.open) return;
    if (this.listener) this.listener.frame(frame);
    else this.early.push(frame);
  }

  close(reason = 'closed locally'): void {
    if (!this.open) return;
    this.shutdown(reason);
    this.peer?.shutdown('closed by remote');
  }

  /** Drops this end without telling the other: a crashed peer. */
  kill(): void {
    this.open = false;
    this.outbox = [];
    this.buffered = 0;
  }

  private shutdown(reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.outbox = [];
    this.buffered = 0;
    schedule(() => this.listener?.close(reason));
  }
}

export interface MemoryLinkPair {
  /** The end held by peer `a` (its remote is `b`). */
  a: Link & { kill(): void };
  b: Link & { kill(): void };
}

/**
 * Two connected in-memory link ends. `deliverBatchBytes` is how much one end
 * delivers per macrotask (a stand-in for link bandwidth).
 */
export function createMemoryLinkPair(
  aPeerId: string,
  bPeerId: string,
  deliverBatchBytes = 256 * 1024,
): MemoryLinkPair {
  const a = new MemoryLink(bPeerId, deliverBatchBytes);
  const b = new MemoryLink(aPeerId, deliverBatchBytes);
  a.peer = b;
  b.peer = a;
  return { a, b };
}
