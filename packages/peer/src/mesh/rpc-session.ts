/**
 * RPC over one Link: requests with timeouts and cancellation, handlers,
 * ping/pong, chunked sending with bufferedAmount backpressure, reassembly
 * with limits, and a flood breaker for peers that send garbage.
 *
 * Sending bypasses any stream abstraction on purpose: frames go straight to
 * `link.send` while `link.bufferedAmount` is below SEND_HIGH_WATER_BYTES, and
 * the pump resumes on the link's `drain` (RTCDataChannel 'bufferedamountlow').
 * Small messages (one frame) jump ahead of the remaining chunks of big ones,
 * so pings, cancels and small answers never wait behind a 30 MiB tensor.
 */
import {
  CodecError,
  DEFAULT_REQUEST_TIMEOUT_MS,
  decodeRpcMessage,
  encodeAbortFrame,
  encodeFrame,
  encodeRpcMessage,
  FRAME_CHUNK_BYTES,
  frameCount,
  MAX_ERROR_MESSAGE_CHARS,
  Reassembler,
  type ReassemblerOptions,
  RpcError,
  type RpcErrorCode,
  type RpcMessage,
  type RpcMeta,
  type WireDtype,
  type WireTensor,
} from '@peerbench/protocol';
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
/** Handlers one peer may have running at once; more are answered `rejected` (busy). */
export const MAX_CONCURRENT_HANDLERS_PER_PEER = 32;
/** Invalid frames/messages tolerated per window before the link is closed. */
export const MAX_INVALID_FRAMES_PER_WINDOW = 64;
export const INVALID_FRAME_WINDOW_MS = 10_000;
/** How often stale partial messages are swept. */
export const REASSEMBLY_SWEEP_INTERVAL_MS = 5_000;

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Wire dtype of the request and of the response (default fp32). */
  wireDtype?: WireDtype;
  meta?: Record<string, string | number>;
}

export interface HandlerContext {
  /** Peer id of the caller. */
  from: string;
  /** Aborts when the caller cancels or times out, or the link closes. */
  signal: AbortSignal;
  meta: Record<string, string | number>;
}

export type RpcHandler = (ctx: HandlerContext, tensors: WireTensor[]) => Promise<WireTensor[]>;

export interface RpcSessionStats {
  invalidFrames: number;
  lastInvalidCode: string | undefined;
  requestsSent: number;
  requestsHandled: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface RpcSessionOptions {
  /** Looks up the handler of a method (shared by all sessions of a mesh). */
  handlers: ReadonlyMap<string, RpcHandler>;
  reassembler?: ReassemblerOptions;
  highWaterBytes?: number;
  lowWaterBytes?: number;
  maxInvalidFramesPerWindow?: number;
  /** Called once when the session ends, with why. */
  onClose?: (reason: string) => void;
}

interface Outgoing {
  bytes: Uint8Array;
  /** Assigned when the first frame is written, so first frames go out in id order. */
  messageId: number;
  nextChunk: number;
  chunks: number;
  /** A pre-built frame (abort frames), sent as is. */
  raw: boolean;
}

interface Pending {
  resolve(tensors: WireTensor[]): void;
  reject(err: RpcError): void;
  outgoing: Outgoing | undefined;
}

const MAX_U32 = 0xffff_ffff;

export class RpcSession {
  readonly remotePeerId: string;
  readonly stats: RpcSessionStats = {
    invalidFrames: 0,
    lastInvalidCode: undefined,
    requestsSent: 0,
    requestsHandled: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };
  private readonly link: Link;
  private readonly opts: RpcSessionOptions;
  private readonly reassembler: Reassembler;
  private readonly highWater: number;
  private readonly control: Outgoing[] = [];
  private readonly bulk: Outgoing[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly pings = new Map<
    number,
    { resolve(ms: number): void; reject(e: RpcError): void; t0: number }
  >();
  private readonly running = new Map<number, AbortController>();
  private readonly invalidAt: number[] = [];
  private nextMessageId = 1;
  private nextRequestId = 1;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly sweepTimer: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(link: Link, opts: RpcSessionOptions) {
    this.link = link;
    this.remotePeerId = link.remotePeerId;
    this.opts = opts;
    this.reassembler = new Reassembler(opts.reassembler);
    this.highWater = opts.highWaterBytes ?? SEND_HIGH_WATER_BYTES;
    link.lowWaterBytes = opts.lowWaterBytes ?? SEND_LOW_WATER_BYTES;
    this.sweepTimer = setInterval(() => this.reassembler.sweep(), REASSEMBLY_SWEEP_INTERVAL_MS);
    (this.sweepTimer as { unref?: () => void }).unref?.();
    link.setListener({
      frame: (data) => this.onFrame(data),
      close: (reason) => this.close('peer-gone', reason),
      drain: () => this.pump(),
    });
  }

  get isOpen(): boolean {
    return !this.closed && this.link.isOpen;
  }

  /** Requests waiting for an answer. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  request(method: string, tensors: WireTensor[], opts: RequestOptions = {}): Promise<WireTensor[]> {
    if (!this.isOpen) return Promise.reject(new RpcError('peer-gone', `no link to ${this.remotePeerId}`));
    if (opts.signal?.aborted) return Promise.reject(new RpcError('cancelled', 'aborted before sending'));
    const id = this.takeRequestId();
    const dtype = opts.wireDtype ?? 'fp32';
    let bytes: Uint8Array;
    try {
      bytes = encodeRpcMessage({
        kind: 'request',
        id,
        method,
        tensors,
        meta: (opts.meta ?? {}) as RpcMeta,
        dtype,
        replyDtype: dtype,
      });
    } catch (e) {
      return Promise.reject(new RpcError('invalid', `cannot send request: ${(e as Error).message}`));
    }
    this.stats.requestsSent++;
    return new Promise<WireTensor[]>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => giveUp(new RpcError('cancelled', 'request aborted by the caller'));
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      const giveUp = (err: RpcError) => {
        const p = this.pending.get(id);
        if (!p) return;
        cleanup();
        // Stop the remote's work: drop our unsent chunks and tell its handler to abort.
        if (this.isOpen) {
          this.abortOutgoing(p.outgoing);
          this.enqueue(encodeRpcMessage({ kind: 'cancel', id }));
        }
        reject(err);
      };
      this.pending.set(id, {
        resolve: (t) => {
          cleanup();
          resolve(t);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
        outgoing: undefined,
      });
      timer = setTimeout(
        () => giveUp(new RpcError('timeout', `no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const p = this.pending.get(id)!;
      p.outgoing = this.enqueue(bytes);
    });
  }

  /** Round-trip time in ms of one ping frame, answered by the remote session itself. */
  ping(timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<number> {
    if (!this.isOpen) return Promise.reject(new RpcError('peer-gone', `no link to ${this.remotePeerId}`));
    const id = this.takeRequestId();
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(id);
        reject(new RpcError('timeout', `no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(id, {
        t0: performance.now(),
        resolve: (ms) => {
          clearTimeout(timer);
          resolve(ms);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.enqueue(encodeRpcMessage({ kind: 'ping', id }));
    });
  }

  /** Ends the session: pending requests reject with `code`, running handlers abort, the link closes. */
  close(code: RpcErrorCode = 'peer-gone', reason = 'session closed'): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.control.length = 0;
    this.bulk.length = 0;
    this.reassembler.clear();
    const err = new RpcError(code, `link to ${this.remotePeerId.slice(0, 8)} closed: ${reason}`);
    for (const p of [...this.pending.values()]) p.reject(err);
    this.pending.clear();
    for (const p of [...this.pings.values()]) p.reject(err);
    this.pings.clear();
    for (const c of this.running.values()) c.abort(err);
    this.running.clear();
    this.link.close(reason);
    this.opts.onClose?.(reason);
  }

  private takeRequestId(): number {
    const id = this.nextRequestId;
    this.nextRequestId = id >= MAX_U32 ? 1 : id + 1;
    return id;
  }

  // ---- sending --------------------------------------------------------------

  private enqueue(bytes: Uint8Array): Outgoing {
    const out: Outgoing = { bytes, messageId: 0, nextChunk: 0, chunks: frameCount(bytes.length), raw: false };
    if (bytes.length <= FRAME_CHUNK_BYTES) this.control.push(out);
    else this.bulk.push(out);
    this.pump();
    return out;
  }

  private abortOutgoing(out: Outgoing | undefined): void {
    if (!out || out.nextChunk >= out.chunks) return;
    const i = this.bulk.indexOf(out);
    if (i >= 0) this.bulk.splice(i, 1);
    const ci = this.control.indexOf(out);
    if (ci >= 0) this.control.splice(ci, 1);
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

  private pump(): void {
    if (this.pollTimer) {
      clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
    }
    if (!this.isOpen) return;
    try {
      while (this.link.bufferedAmount < this.highWater) {
        const out = this.control.shift() ?? this.bulk[0];
        if (!out) return;
        let frame: Uint8Array;
        if (out.raw) {
          frame = out.bytes;
          out.nextChunk = 1;
        } else {
          if (out.nextChunk === 0) {
            out.messageId = this.nextMessageId;
            this.nextMessageId = this.nextMessageId >= MAX_U32 ? 1 : this.nextMessageId + 1;
          }
          frame = encodeFrame(out.messageId, out.bytes, out.nextChunk);
          out.nextChunk++;
          if (out.nextChunk >= out.chunks && this.bulk[0] === out) this.bulk.shift();
        }
        this.link.send(frame);
        this.stats.bytesSent += frame.length;
      }
    } catch (e) {
      this.close('peer-gone', `send failed: ${(e as Error).message}`);
      return;
    }
    if (this.control.length > 0 || this.bulk.length > 0) {
      this.pollTimer = setTimeout(
        () => this.pump(),
        this.link.drainEvents ? DRAIN_POLL_MS : DRAIN_POLL_FALLBACK_MS,
      );
    }
  }

  // ---- receiving ------------------------------------------------------------

  private onFrame(data: Uint8Array): void {
    if (this.closed) return;
    this.stats.bytesReceived += data.length;
    let message: Uint8Array | null;
    try {
      message = this.reassembler.push(data);
    } catch (e) {
      this.invalid(e);
      return;
    }
    if (!message) return;
    let msg: RpcMessage;
    try {
      msg = decodeRpcMessage(message);
    } catch (e) {
      this.invalid(e);
      if (e instanceof CodecError && e.requestId !== undefined) {
        if (e.messageKind === 'request') this.sendError(e.requestId, 'invalid', `${e.code}: ${e.message}`);
        else if (e.messageKind === 'response' || e.messageKind === 'error') {
          this.pending
            .get(e.requestId)
            ?.reject(new RpcError('invalid', `bad answer: ${e.code}: ${e.message}`));
        }
      }
      return;
    }
    this.dispatch(msg);
  }

  private invalid(e: unknown): void {
    if (!(e instanceof CodecError)) throw e;
    this.stats.invalidFrames++;
    this.stats.lastInvalidCode = e.code;
    const now = Date.now();
    this.invalidAt.push(now);
    while (this.invalidAt.length > 0 && now - this.invalidAt[0]! > INVALID_FRAME_WINDOW_MS)
      this.invalidAt.shift();
    if (this.invalidAt.length > (this.opts.maxInvalidFramesPerWindow ?? MAX_INVALID_FRAMES_PER_WINDOW)) {
      this.close('peer-gone', `too many invalid frames (last: ${e.code})`);
    }
  }

  private dispatch(msg: RpcMessage): void {
    switch (msg.kind) {
      case 'request':
        this.serve(msg);
        return;
      case 'response':
        // Unknown ids are late answers to requests that timed out: not an error.
        this.pending.get(msg.id)?.resolve(msg.tensors);
        return;
      case 'error':
        this.pending.get(msg.id)?.reject(new RpcError(msg.code, msg.message));
        return;
      case 'cancel':
        this.running.get(msg.id)?.abort(new RpcError('cancelled', 'cancelled by the caller'));
        return;
      case 'ping':
        this.enqueue(encodeRpcMessage({ kind: 'pong', id: msg.id }));
        return;
      case 'pong': {
        const p = this.pings.get(msg.id);
        if (p) {
          this.pings.delete(msg.id);
          p.resolve(performance.now() - p.t0);
        }
        return;
      }
    }
  }

  private serve(msg: Extract<RpcMessage, { kind: 'request' }>): void {
    const handler = this.opts.handlers.get(msg.method);
    if (!handler) {
      this.sendError(msg.id, 'rejected', `no handler for method '${msg.method}'`);
      return;
    }
    if (this.running.has(msg.id)) {
      this.sendError(msg.id, 'invalid', `request id ${msg.id} is already running`);
      return;
    }
    if (this.running.size >= MAX_CONCURRENT_HANDLERS_PER_PEER) {
      this.sendError(
        msg.id,
        'rejected',
        `busy: ${MAX_CONCURRENT_HANDLERS_PER_PEER} requests already running`,
      );
      return;
    }
    const controller = new AbortController();
    this.running.set(msg.id, controller);
    this.stats.requestsHandled++;
    const ctx: HandlerContext = { from: this.remotePeerId, signal: controller.signal, meta: msg.meta };
    const finish = (reply: () => RpcMessage) => {
      if (this.running.get(msg.id) !== controller) return;
      this.running.delete(msg.id);
      // A cancelled request's caller has already given up: say nothing.
      if (controller.signal.aborted || !this.isOpen) return;
      let bytes: Uint8Array;
      try {
        bytes = encodeRpcMessage(reply());
      } catch (e) {
        const code = e instanceof CodecError ? e.code : 'error';
        bytes = encodeRpcMessage(
          errorMessage(msg.id, 'rejected', `handler returned bad tensors (${code}): ${(e as Error).message}`),
        );
      }
      this.enqueue(bytes);
    };
    let result: Promise<WireTensor[]>;
    try {
      result = Promise.resolve(handler(ctx, msg.tensors));
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then(
      (tensors) => finish(() => ({ kind: 'response', id: msg.id, tensors, dtype: msg.replyDtype })),
      (e: unknown) =>
        finish(() => errorMessage(msg.id, 'rejected', e instanceof Error ? e.message : String(e))),
    );
  }

  private sendError(id: number, code: RpcErrorCode, message: string): void {
    if (!this.isOpen) return;
    this.enqueue(encodeRpcMessage(errorMessage(id, code, message)));
  }
}

function errorMessage(id: number, code: RpcErrorCode, message: string): RpcMessage {
  return { kind: 'error', id, code, message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) };
}
