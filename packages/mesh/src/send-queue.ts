/**
 * The sending half of an RPC session: encoded messages cut into frames and
 * written straight to `link.send` while `link.bufferedAmount` is below the
 * high-water mark; the pump resumes on the link's `drain` event
 * (RTCDataChannel 'bufferedamountlow'), or on a short poll where the link has
 * none. Small messages (one frame) jump ahead of the remaining chunks of big
 * ones, so pings, cancels and small answers never wait behind a 30 MiB tensor.
 *
 * The queue itself is capped (SEND_QUEUE_MAX_BYTES of messages not yet fully
 * written): when the remote stops reading, its transport buffer stays full,
 * nothing leaves the queue, and `enqueue` throws SendQueueFullError (code
 * `send-queue-full`) instead of holding every later message in memory.
 */
import { encodeAbortFrame, encodeFrame, FRAME_CHUNK_BYTES, frameCount } from '@peerbench/protocol';
import type { Link } from './link.js';

/** The pump stops writing above this many bytes queued in the transport. */
export const SEND_HIGH_WATER_BYTES = 1024 * 1024;
/** …and resumes when the transport's queue drains to this. */
export const SEND_LOW_WATER_BYTES = 256 * 1024;
/** Safety re-check of a blocked pump when the link fires drain events (browsers). */
export const DRAIN_POLL_MS = 50;
/**
 * Re-check interval of a blocked pump when the link has no drain events
 * (@roamhq/wrtc): short, because the channel empties ~70 KiB per ms on loopback.
 */
export const DRAIN_POLL_FALLBACK_MS = 1;

/**
 * Most bytes of messages held by one link's queue (whole messages, until their
 * last frame is written). Several of the largest answers the peers send (a
 * batch's representation is ~1-4 MiB) fit; a remote that reads nothing
 * cannot make this peer hold more.
 */
export const SEND_QUEUE_MAX_BYTES = 32 * 1024 * 1024;

const MAX_U32 = 0xffff_ffff;

/** The queue holds SEND_QUEUE_MAX_BYTES (or its configured cap): the remote is not reading. */
export class SendQueueFullError extends Error {
  readonly code = 'send-queue-full';
  constructor(message: string) {
    super(message);
    this.name = 'SendQueueFullError';
  }
}

/** One message on its way out; `abort` it to drop its unsent chunks. */
export interface Outgoing {
  readonly bytes: Uint8Array;
  /** Assigned when the first frame is written, so first frames go out in id order. */
  messageId: number;
  nextChunk: number;
  readonly chunks: number;
  /** A pre-built frame (abort frames), sent as is. */
  readonly raw: boolean;
}

export interface SendQueueOptions {
  highWaterBytes?: number;
  /** See SEND_QUEUE_MAX_BYTES. */
  maxQueuedBytes?: number;
  /** Called when a write to the link throws (the session then closes). */
  onSendError(err: Error): void;
  /** Called with every frame's size once written. */
  onSent?(bytes: number): void;
}

export class SendQueue {
  private readonly control: Outgoing[] = [];
  private readonly bulk: Outgoing[] = [];
  private readonly highWater: number;
  private readonly maxQueued: number;
  private queued = 0;
  private nextMessageId = 1;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly link: Link,
    private readonly opts: SendQueueOptions,
  ) {
    this.highWater = opts.highWaterBytes ?? SEND_HIGH_WATER_BYTES;
    this.maxQueued = opts.maxQueuedBytes ?? SEND_QUEUE_MAX_BYTES;
  }

  /** Bytes of the messages held (queued or partly written). */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Queues an encoded message and writes what the link takes now; throws SendQueueFullError over the cap. */
  enqueue(bytes: Uint8Array): Outgoing {
    if (this.queued + bytes.length > this.maxQueued) {
      throw new SendQueueFullError(
        `${this.queued} bytes already queued to ${this.link.remotePeerId.slice(0, 8)} (cap ${this.maxQueued}): the remote is not reading`,
      );
    }
    this.queued += bytes.length;
    const out: Outgoing = { bytes, messageId: 0, nextChunk: 0, chunks: frameCount(bytes.length), raw: false };
    if (bytes.length <= FRAME_CHUNK_BYTES) this.control.push(out);
    else this.bulk.push(out);
    this.pump();
    return out;
  }

  /** Drops the unsent chunks of `out`; a partly sent message is announced aborted to the receiver. */
  abort(out: Outgoing | undefined): void {
    if (!out || out.nextChunk >= out.chunks) return;
    const i = this.bulk.indexOf(out);
    if (i >= 0) this.bulk.splice(i, 1);
    const ci = this.control.indexOf(out);
    if (ci >= 0) this.control.splice(ci, 1);
    if (i >= 0 || ci >= 0) this.queued -= out.bytes.length;
    // Only a partly sent message has state at the receiver to drop.
    if (out.nextChunk > 0) {
      this.control.push({
        bytes: encodeAbortFrame(out.messageId),
        messageId: 0,
        nextChunk: 0,
        chunks: 1,
        raw: true,
      });
      this.pump();
    }
  }

  /** Drops everything queued and stops the poll timer; nothing is sent after. */
  stop(): void {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.control.length = 0;
    this.bulk.length = 0;
    this.queued = 0;
  }

  /** Writes frames while the link's buffer is below the high-water mark. */
  pump(): void {
    if (this.pollTimer) {
      clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
    }
    if (this.stopped || !this.link.isOpen) return;
    try {
      while (this.link.bufferedAmount < this.highWater) {
        const out = this.control.shift() ?? this.bulk[0];
        if (!out) return;
        const frame = this.nextFrame(out);
        this.link.send(frame);
        this.opts.onSent?.(frame.length);
      }
    } catch (e) {
      this.opts.onSendError(e as Error);
      return;
    }
    if (this.control.length > 0 || this.bulk.length > 0) {
      this.pollTimer = setTimeout(
        () => this.pump(),
        this.link.drainEvents ? DRAIN_POLL_MS : DRAIN_POLL_FALLBACK_MS,
      );
    }
  }

  private nextFrame(out: Outgoing): Uint8Array {
    if (out.raw) {
      // Abort frames are a few bytes, made by the queue itself: never counted, never refused.
      out.nextChunk = 1;
      return out.bytes;
    }
    if (out.nextChunk === 0) {
      out.messageId = this.nextMessageId;
      this.nextMessageId = this.nextMessageId >= MAX_U32 ? 1 : this.nextMessageId + 1;
    }
    const frame = encodeFrame(out.messageId, out.bytes, out.nextChunk);
    out.nextChunk++;
    if (out.nextChunk >= out.chunks) {
      this.queued -= out.bytes.length;
      if (this.bulk[0] === out) this.bulk.shift();
    }
    return frame;
  }
}
