/**
 * Chunking of encoded RPC messages into data-channel frames of at most
 * MAX_FRAME_BYTES, and their reassembly with limits.
 *
 * Frame = 16-byte little-endian header + chunk:
 *
 *   offset 0  u8   version      FRAME_VERSION (1)
 *   offset 1  u8   flags        0 = data, FRAME_FLAG_ABORT (1) = sender abandoned this message
 *   offset 2  u16  reserved     0
 *   offset 4  u32  messageId    per-link sequence number, 1, 2, 3, … (first frames arrive in id order)
 *   offset 8  u32  chunkIndex   0-based
 *   offset 12 u32  messageBytes total length of the message (same in every frame of it)
 *   offset 16 …    chunk        FRAME_CHUNK_BYTES bytes, except the last chunk which holds the rest
 *
 * Data channels are reliable and ordered, so chunks of one message arrive in
 * index order; frames of different messages may interleave (a ping does not
 * wait behind a 30 MiB tensor). Anything else is an error with a code:
 * a gap is 'out-of-order', a repeat 'duplicate', a short chunk 'truncated',
 * a message over the limit 'too-large'.
 */
import { CodecError } from './errors.js';
import {
  FRAME_CHUNK_BYTES,
  FRAME_HEADER_BYTES,
  MAX_FRAME_BYTES,
  MAX_INFLIGHT_PARTIAL_MESSAGES,
  MAX_MESSAGE_BYTES,
  MAX_PARTIAL_BYTES_PER_LINK,
  MAX_PARTIAL_BYTES_TOTAL,
  PARTIAL_MESSAGE_TIMEOUT_MS,
} from './limits.js';

export const FRAME_VERSION = 1;
export const FRAME_FLAG_ABORT = 1;
const MAX_U32 = 0xffff_ffff;

export function frameCount(messageBytes: number): number {
  return Math.max(1, Math.ceil(messageBytes / FRAME_CHUNK_BYTES));
}

function writeHeader(
  frame: Uint8Array,
  flags: number,
  messageId: number,
  chunkIndex: number,
  messageBytes: number,
): void {
  const dv = new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_BYTES);
  dv.setUint8(0, FRAME_VERSION);
  dv.setUint8(1, flags);
  dv.setUint16(2, 0, true);
  dv.setUint32(4, messageId, true);
  dv.setUint32(8, chunkIndex, true);
  dv.setUint32(12, messageBytes, true);
}

/** The frame carrying chunk `chunkIndex` of `message` (a fresh buffer the channel may keep). */
export function encodeFrame(messageId: number, message: Uint8Array, chunkIndex: number): Uint8Array {
  const start = chunkIndex * FRAME_CHUNK_BYTES;
  const end = Math.min(message.length, start + FRAME_CHUNK_BYTES);
  const frame = new Uint8Array(FRAME_HEADER_BYTES + (end - start));
  writeHeader(frame, 0, messageId, chunkIndex, message.length);
  frame.set(message.subarray(start, end), FRAME_HEADER_BYTES);
  return frame;
}

/** All frames of one message, produced lazily so a big message is never held twice. */
export function* frameMessage(messageId: number, message: Uint8Array): Generator<Uint8Array> {
  if (message.length === 0 || message.length > MAX_MESSAGE_BYTES) {
    throw new CodecError('too-large', `cannot frame a message of ${message.length} bytes`);
  }
  const n = frameCount(message.length);
  for (let i = 0; i < n; i++) yield encodeFrame(messageId, message, i);
}

/** Tells the receiver to drop the partial message `messageId` (e.g. its request was cancelled mid-send). */
export function encodeAbortFrame(messageId: number): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES);
  writeHeader(frame, FRAME_FLAG_ABORT, messageId, 0, 0);
  return frame;
}

export interface FrameHeader {
  flags: number;
  messageId: number;
  chunkIndex: number;
  messageBytes: number;
}

export function decodeFrameHeader(frame: Uint8Array): FrameHeader {
  if (frame.length < FRAME_HEADER_BYTES) {
    throw new CodecError(
      'truncated',
      `frame is ${frame.length} bytes; the header alone is ${FRAME_HEADER_BYTES}`,
    );
  }
  if (frame.length > MAX_FRAME_BYTES) {
    throw new CodecError('too-large', `frame is ${frame.length} bytes; the limit is ${MAX_FRAME_BYTES}`);
  }
  const dv = new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_BYTES);
  const version = dv.getUint8(0);
  if (version !== FRAME_VERSION)
    throw new CodecError('invalid-frame', `frame version ${version} is not ${FRAME_VERSION}`);
  const flags = dv.getUint8(1);
  if ((flags & ~FRAME_FLAG_ABORT) !== 0 || dv.getUint16(2, true) !== 0) {
    throw new CodecError('invalid-frame', `unknown frame flags ${flags}`);
  }
  const messageId = dv.getUint32(4, true);
  if (messageId === 0) throw new CodecError('invalid-frame', 'message id 0 is reserved');
  return { flags, messageId, chunkIndex: dv.getUint32(8, true), messageBytes: dv.getUint32(12, true) };
}

/**
 * Bytes held in partial messages by several Reassemblers together (all the
 * links of one peer): one budget bounds the peer's memory however many links
 * announce large messages at once.
 */
export class ReassemblyBudget {
  private usedBytes = 0;
  constructor(readonly maxBytes: number = MAX_PARTIAL_BYTES_TOTAL) {
    if (!(maxBytes > 0)) throw new RangeError(`maxBytes must be positive, got ${maxBytes}`);
  }
  /** Bytes currently charged by every Reassembler that shares this budget. */
  get bufferedBytes(): number {
    return this.usedBytes;
  }
  /** Charges `bytes` if they fit; false (nothing charged) if they do not. */
  tryReserve(bytes: number): boolean {
    if (this.usedBytes + bytes > this.maxBytes) return false;
    this.usedBytes += bytes;
    return true;
  }
  release(bytes: number): void {
    this.usedBytes = Math.max(0, this.usedBytes - bytes);
  }
}

export interface ReassemblerOptions {
  maxMessageBytes?: number;
  maxInFlight?: number;
  /** Bytes this link may hold in partial messages (received so far, not announced). */
  maxPartialBytes?: number;
  /** A budget shared with the peer's other links; each received chunk is charged to it too. */
  budget?: ReassemblyBudget;
  partialTimeoutMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

interface Partial {
  messageBytes: number;
  nextIndex: number;
  /** The chunks received so far (views into their frames, which the Reassembler owns). */
  chunks: Uint8Array[];
  /** Bytes received so far: what this message holds and is charged for. */
  receivedBytes: number;
  lastFrameAtMs: number;
}

/** How many recently dropped ids are remembered, to tell 'stale' from 'duplicate'. */
const DROPPED_MEMORY = 64;

/**
 * Turns the frames of one link back into messages. One instance per link:
 * a new link starts a new sequence. `push` returns a completed message or
 * null, and throws CodecError for a bad frame (the frame is dropped; state
 * for other messages is untouched, except that a message whose frame was bad
 * is dropped whole).
 *
 * A multi-frame message holds only the chunks that have arrived, and each is
 * charged as it arrives against `maxPartialBytes` and the shared `budget`:
 * announcing a 32 MiB message costs nothing until 32 MiB are actually sent,
 * so memory is bounded by what peers send, and the budgets cap that. A chunk
 * that would go over a budget drops its message ('too-large'). The completed
 * message is copied into one buffer once. The returned message of a
 * single-frame message is a view into the frame itself.
 */
export class Reassembler {
  private readonly maxMessageBytes: number;
  private readonly maxInFlight: number;
  private readonly maxPartialBytes: number;
  private readonly budget: ReassemblyBudget | null;
  private readonly partialTimeoutMs: number;
  private readonly now: () => number;
  private readonly partials = new Map<number, Partial>();
  private readonly dropped = new Map<number, 'stale' | 'duplicate'>();
  private partialBytes = 0;
  /** Highest message id whose first frame was seen. */
  private highestStarted = 0;

  constructor(opts: ReassemblerOptions = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.maxInFlight = opts.maxInFlight ?? MAX_INFLIGHT_PARTIAL_MESSAGES;
    this.maxPartialBytes = opts.maxPartialBytes ?? MAX_PARTIAL_BYTES_PER_LINK;
    this.budget = opts.budget ?? null;
    this.partialTimeoutMs = opts.partialTimeoutMs ?? PARTIAL_MESSAGE_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
  }

  /** Partial messages currently held. */
  get inFlight(): number {
    return this.partials.size;
  }

  /** Bytes held by partial messages (the chunks received so far). */
  get bufferedBytes(): number {
    return this.partialBytes;
  }

  /** Drops partial messages idle for longer than the timeout; returns how many. */
  sweep(): number {
    const now = this.now();
    let n = 0;
    for (const [id, p] of this.partials) {
      if (now - p.lastFrameAtMs > this.partialTimeoutMs) {
        this.drop(id, 'stale');
        n++;
      }
    }
    return n;
  }

  /** Forget everything (the link closed). */
  clear(): void {
    this.budget?.release(this.partialBytes);
    this.partials.clear();
    this.dropped.clear();
    this.partialBytes = 0;
  }

  /** Takes ownership of `frame` (a single-frame message is returned as a view into it). */
  push(frame: Uint8Array): Uint8Array | null {
    this.sweep();
    const h = decodeFrameHeader(frame);
    if (h.flags & FRAME_FLAG_ABORT) {
      if (frame.length !== FRAME_HEADER_BYTES || h.chunkIndex !== 0 || h.messageBytes !== 0) {
        throw new CodecError('invalid-frame', 'abort frame carries data');
      }
      if (this.partials.has(h.messageId)) this.drop(h.messageId, 'duplicate');
      return null;
    }
    if (h.messageBytes === 0) throw new CodecError('invalid-frame', 'message length 0');
    if (h.messageBytes > this.maxMessageBytes) {
      this.dropIfOpen(h.messageId);
      throw new CodecError(
        'too-large',
        `message is ${h.messageBytes} bytes; the limit is ${this.maxMessageBytes}`,
      );
    }
    const count = frameCount(h.messageBytes);
    if (h.chunkIndex >= count) {
      this.dropIfOpen(h.messageId);
      throw new CodecError('invalid-frame', `chunk ${h.chunkIndex} of a ${count}-chunk message`);
    }
    const expectedChunk =
      h.chunkIndex === count - 1 ? h.messageBytes - h.chunkIndex * FRAME_CHUNK_BYTES : FRAME_CHUNK_BYTES;
    const chunkBytes = frame.length - FRAME_HEADER_BYTES;
    if (chunkBytes !== expectedChunk) {
      this.dropIfOpen(h.messageId);
      throw new CodecError(
        chunkBytes < expectedChunk ? 'truncated' : 'invalid-frame',
        `chunk ${h.chunkIndex} has ${chunkBytes} bytes; expected ${expectedChunk}`,
      );
    }
    const chunk = frame.subarray(FRAME_HEADER_BYTES);

    if (h.chunkIndex === 0) {
      if (this.partials.has(h.messageId) || !this.isNewId(h.messageId)) {
        throw new CodecError('duplicate', `message ${h.messageId} was already started`);
      }
      this.highestStarted = h.messageId;
      // Single-frame messages (pings, cancels, small tensors) never touch the map.
      if (count === 1) return chunk;
      if (this.partials.size >= this.maxInFlight) {
        throw new CodecError('too-many-in-flight', `more than ${this.maxInFlight} partial messages`);
      }
      this.charge(h.messageId, chunk.length);
      this.partials.set(h.messageId, {
        messageBytes: h.messageBytes,
        nextIndex: 1,
        chunks: [chunk],
        receivedBytes: chunk.length,
        lastFrameAtMs: this.now(),
      });
      return null;
    }

    const p = this.partials.get(h.messageId);
    if (!p) {
      const why = this.dropped.get(h.messageId);
      if (why === 'stale') throw new CodecError('stale', `message ${h.messageId} was dropped for inactivity`);
      if (why || !this.isNewId(h.messageId)) {
        throw new CodecError('duplicate', `message ${h.messageId} is complete or dropped`);
      }
      throw new CodecError(
        'out-of-order',
        `chunk ${h.chunkIndex} of message ${h.messageId} before its first chunk`,
      );
    }
    if (h.messageBytes !== p.messageBytes) {
      this.drop(h.messageId, 'duplicate');
      throw new CodecError('invalid-frame', `message ${h.messageId} changed its length`);
    }
    if (h.chunkIndex < p.nextIndex) throw new CodecError('duplicate', `chunk ${h.chunkIndex} repeated`);
    if (h.chunkIndex > p.nextIndex) {
      this.drop(h.messageId, 'duplicate');
      throw new CodecError('out-of-order', `chunk ${h.chunkIndex} arrived before chunk ${p.nextIndex}`);
    }
    try {
      this.charge(h.messageId, chunk.length);
    } catch (err) {
      this.drop(h.messageId, 'duplicate');
      throw err;
    }
    p.chunks.push(chunk);
    p.receivedBytes += chunk.length;
    p.nextIndex++;
    p.lastFrameAtMs = this.now();
    if (p.nextIndex < count) return null;
    this.forget(h.messageId);
    const message = new Uint8Array(p.messageBytes);
    let offset = 0;
    for (const c of p.chunks) {
      message.set(c, offset);
      offset += c.length;
    }
    return message;
  }

  /** Charges a received chunk to this link's and the shared budget, or throws 'too-large'. */
  private charge(messageId: number, bytes: number): void {
    if (this.partialBytes + bytes > this.maxPartialBytes) {
      throw new CodecError(
        'too-large',
        `message ${messageId}: partial messages on this link would exceed ${this.maxPartialBytes} bytes`,
      );
    }
    if (this.budget && !this.budget.tryReserve(bytes)) {
      throw new CodecError(
        'too-large',
        `message ${messageId}: partial messages on all links would exceed ${this.budget.maxBytes} bytes`,
      );
    }
    this.partialBytes += bytes;
  }

  /** Ids increase per link; a wrap from near 2^32 back to small ids is allowed. */
  private isNewId(id: number): boolean {
    if (id > this.highestStarted) return true;
    return this.highestStarted > MAX_U32 - 0x1000_0000 && id < 0x1000_0000;
  }

  private dropIfOpen(id: number): void {
    if (this.partials.has(id)) this.drop(id, 'duplicate');
  }

  /** Removes a partial message and gives back what it was charged. */
  private forget(id: number): void {
    const p = this.partials.get(id);
    if (!p) return;
    this.partialBytes -= p.receivedBytes;
    this.budget?.release(p.receivedBytes);
    this.partials.delete(id);
  }

  private drop(id: number, why: 'stale' | 'duplicate'): void {
    this.forget(id);
    this.dropped.set(id, why);
    if (this.dropped.size > DROPPED_MEMORY) {
      const oldest = this.dropped.keys().next().value;
      if (oldest !== undefined) this.dropped.delete(oldest);
    }
  }
}
