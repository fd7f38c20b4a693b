/**
 * RPC over one Link: requests with timeouts and cancellation (one
 * PendingCalls table for requests, one for pings), handlers, ping/pong,
 * reassembly with limits, and a flood breaker for peers that send garbage.
 * Sending, with its backpressure and priorities, is send-queue.ts.
 */
import {
  CodecError,
  DEFAULT_REQUEST_TIMEOUT_MS,
  decodeRpcMessage,
  encodeRpcMessage,
  MAX_ERROR_MESSAGE_CHARS,
  PendingCalls,
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
import { type Outgoing, SEND_LOW_WATER_BYTES, SendQueue, SendQueueFullError } from './send-queue.js';
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
  /** Messages refused because the send queue was at its cap (the remote stopped reading). */
  sendQueueRefusals: number;
}

export interface RpcSessionOptions {
  /** Looks up the handler of a method (shared by all sessions of a mesh). */
  handlers: ReadonlyMap<string, RpcHandler>;
  reassembler?: ReassemblerOptions;
  highWaterBytes?: number;
  lowWaterBytes?: number;
  /** See SEND_QUEUE_MAX_BYTES. */
  sendQueueMaxBytes?: number;
  maxInvalidFramesPerWindow?: number;
  /** Called once when the session ends, with why. */
  onClose?: (reason: string) => void;
}

/** What a pending request remembers: its message in the send queue, to drop it when the caller gives up. */
interface RequestContext {
  outgoing: Outgoing | undefined;
}

export class RpcSession {
  readonly remotePeerId: string;
  readonly stats: RpcSessionStats = {
    invalidFrames: 0,
    lastInvalidCode: undefined,
    requestsSent: 0,
    requestsHandled: 0,
    bytesSent: 0,
    bytesReceived: 0,
    sendQueueRefusals: 0,
  };
  private readonly link: Link;
  private readonly opts: RpcSessionOptions;
  private readonly reassembler: Reassembler;
  private readonly queue: SendQueue;
  private readonly pending: PendingCalls<WireTensor[], RequestContext>;
  /** Pings waiting for their pong; the context is when the ping was queued (performance.now()). */
  private readonly pings = new PendingCalls<number, number>({
    timeoutError: (ms) => new RpcError('timeout', `no pong within ${ms} ms`),
    abortError: () => new RpcError('cancelled', 'ping aborted'),
  });
  private readonly running = new Map<number, AbortController>();
  private readonly invalidAt: number[] = [];
  private readonly sweepTimer: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(link: Link, opts: RpcSessionOptions) {
    this.link = link;
    this.remotePeerId = link.remotePeerId;
    this.opts = opts;
    this.reassembler = new Reassembler(opts.reassembler);
    this.queue = new SendQueue(link, {
      ...(opts.highWaterBytes !== undefined ? { highWaterBytes: opts.highWaterBytes } : {}),
      ...(opts.sendQueueMaxBytes !== undefined ? { maxQueuedBytes: opts.sendQueueMaxBytes } : {}),
      onSendError: (e) => this.close('peer-gone', `send failed: ${e.message}`),
      onSent: (bytes) => {
        this.stats.bytesSent += bytes;
      },
    });
    this.pending = new PendingCalls<WireTensor[], RequestContext>({
      timeoutError: (ms) => new RpcError('timeout', `no answer within ${ms} ms`),
      abortError: () => new RpcError('cancelled', 'request aborted by the caller'),
      // Stop the remote's work: drop our unsent chunks and tell its handler to abort.
      onGiveUp: (id, _reason, ctx) => {
        if (!this.isOpen) return;
        this.queue.abort(ctx.outgoing);
        this.tryEnqueue(encodeRpcMessage({ kind: 'cancel', id }));
      },
    });
    link.lowWaterBytes = opts.lowWaterBytes ?? SEND_LOW_WATER_BYTES;
    this.sweepTimer = setInterval(() => this.reassembler.sweep(), REASSEMBLY_SWEEP_INTERVAL_MS);
    (this.sweepTimer as { unref?: () => void }).unref?.();
    link.setListener({
      frame: (data) => this.onFrame(data),
      close: (reason) => this.close('peer-gone', reason),
      drain: () => this.queue.pump(),
    });
  }

  get isOpen(): boolean {
    return !this.closed && this.link.isOpen;
  }

  /** Bytes of messages held in this link's send queue (bounded by its cap). */
  get queuedBytes(): number {
    return this.queue.queuedBytes;
  }

  /** Requests waiting for an answer. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  request(method: string, tensors: WireTensor[], opts: RequestOptions = {}): Promise<WireTensor[]> {
    if (!this.isOpen) return Promise.reject(new RpcError('peer-gone', `no link to ${this.remotePeerId}`));
    if (opts.signal?.aborted) return Promise.reject(new RpcError('cancelled', 'aborted before sending'));
    const context: RequestContext = { outgoing: undefined };
    const call = this.pending.add({
      timeoutMs: opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      signal: opts.signal,
      context,
    });
    const dtype = opts.wireDtype ?? 'fp32';
    let bytes: Uint8Array;
    try {
      bytes = encodeRpcMessage({
        kind: 'request',
        id: call.id,
        method,
        tensors,
        meta: (opts.meta ?? {}) as RpcMeta,
        dtype,
        replyDtype: dtype,
      });
    } catch (e) {
      this.pending.reject(call.id, new RpcError('invalid', `cannot send request: ${(e as Error).message}`));
      return call.promise;
    }
    try {
      context.outgoing = this.queue.enqueue(bytes);
    } catch (e) {
      this.refuse(call.id, this.pending, e);
      return call.promise;
    }
    this.stats.requestsSent++;
    return call.promise;
  }

  /** Round-trip time in ms of one ping frame, answered by the remote session itself. */
  ping(timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<number> {
    if (!this.isOpen) return Promise.reject(new RpcError('peer-gone', `no link to ${this.remotePeerId}`));
    const call = this.pings.add({ timeoutMs, context: performance.now() });
    try {
      this.queue.enqueue(encodeRpcMessage({ kind: 'ping', id: call.id }));
    } catch (e) {
      this.refuse(call.id, this.pings, e);
    }
    return call.promise;
  }

  /** A call whose message the send queue refused fails at once with `send-queue-full`. */
  private refuse(id: number, calls: { reject(id: number, err: Error): void }, e: unknown): void {
    if (!(e instanceof SendQueueFullError)) throw e;
    this.stats.sendQueueRefusals++;
    calls.reject(id, new RpcError('send-queue-full', e.message));
  }

  /** Queues a message nobody waits on (answers, cancels, pongs); over the cap it is dropped and counted. */
  private tryEnqueue(bytes: Uint8Array): void {
    try {
      this.queue.enqueue(bytes);
    } catch (e) {
      if (!(e instanceof SendQueueFullError)) throw e;
      this.stats.sendQueueRefusals++;
    }
  }

  /** Ends the session: pending requests reject with `code`, running handlers abort, the link closes. */
  close(code: RpcErrorCode = 'peer-gone', reason = 'session closed'): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.queue.stop();
    this.reassembler.clear();
    const err = new RpcError(code, `link to ${this.remotePeerId.slice(0, 8)} closed: ${reason}`);
    this.pending.rejectAll(err);
    this.pings.rejectAll(err);
    for (const c of this.running.values()) c.abort(err);
    this.running.clear();
    this.link.close(reason);
    this.opts.onClose?.(reason);
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
          this.pending.reject(e.requestId, new RpcError('invalid', `bad answer: ${e.code}: ${e.message}`));
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
        this.pending.resolve(msg.id, msg.tensors);
        return;
      case 'error':
        this.pending.reject(msg.id, new RpcError(msg.code, msg.message));
        return;
      case 'cancel':
        this.running.get(msg.id)?.abort(new RpcError('cancelled', 'cancelled by the caller'));
        return;
      case 'ping':
        this.tryEnqueue(encodeRpcMessage({ kind: 'pong', id: msg.id }));
        return;
      case 'pong': {
        const sentAt = this.pings.context(msg.id);
        if (sentAt !== undefined) this.pings.resolve(msg.id, performance.now() - sentAt);
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
      this.tryEnqueue(bytes);
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
    this.tryEnqueue(encodeRpcMessage(errorMessage(id, code, message)));
  }
}

function errorMessage(id: number, code: RpcErrorCode, message: string): RpcMessage {
  return { kind: 'error', id, code, message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) };
}
