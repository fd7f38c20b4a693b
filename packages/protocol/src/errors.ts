/**
 * Error classes of the peer RPC wire, each with a stable string `code` that
 * callers switch on (messages are for humans and may change).
 */

export const CODEC_ERROR_CODES = [
  /** A frame's binary header is malformed (wrong version, flags, length, index). */
  'invalid-frame',
  /** A message's JSON header is not JSON or does not match the schema. */
  'invalid-header',
  /** A tensor names a dtype other than fp32 / fp16. */
  'bad-dtype',
  /** A tensor contains NaN or ±Infinity. */
  'nan-or-inf',
  /** A float32 value is too large for fp16 (|x| ≥ 65520 after rounding). */
  'fp16-overflow',
  /** Shape and data do not agree, or the payload is longer than the header says. */
  'shape-mismatch',
  /** A tensor has more than MAX_TENSOR_DIMS dimensions. */
  'too-many-dims',
  /** A tensor, header, message or the partial-message budget exceeds its limit. */
  'too-large',
  /** Fewer bytes than the header or frame announces. */
  'truncated',
  /** A frame arrived for a message before the frames that precede it. */
  'out-of-order',
  /** A frame or message id was already received. */
  'duplicate',
  /** More partial messages in flight than MAX_INFLIGHT_PARTIAL_MESSAGES. */
  'too-many-in-flight',
  /** A frame belongs to a partial message dropped for inactivity. */
  'stale',
] as const;
export type CodecErrorCode = (typeof CODEC_ERROR_CODES)[number];

/**
 * Base of the coded errors: a stable `code` to match on instead of the
 * message; each subclass sets its `name` (`override readonly name = 'XError'`).
 */
export class CodedError<C extends string> extends Error {
  readonly code: C;
  constructor(code: C, message: string) {
    super(message);
    this.code = code;
  }
}

/** Anything wrong with bytes received (or tensors about to be sent). */
export class CodecError extends Error {
  readonly code: CodecErrorCode;
  /** Set when the header was readable: lets a server answer the request with an `error` frame. */
  readonly requestId: number | undefined;
  readonly messageKind: string | undefined;
  constructor(code: CodecErrorCode, message: string, context?: { requestId?: number; messageKind?: string }) {
    super(message);
    this.name = 'CodecError';
    this.code = code;
    this.requestId = context?.requestId;
    this.messageKind = context?.messageKind;
  }
}

export const RPC_ERROR_CODES = [
  /** No answer within the request's timeout. */
  'timeout',
  /** The link to the peer closed (or never existed) before the answer came. */
  'peer-gone',
  /** The peer's handler threw, no handler exists for the method, or the peer is busy. */
  'rejected',
  /** The request or the answer failed validation (bad tensors, bad frame). */
  'invalid',
  /** The caller aborted the request (AbortSignal) or the mesh stopped. */
  'cancelled',
  /**
   * Not sent: the link's send queue is at its byte cap because the remote
   * has stopped reading (local only; never sent over the wire).
   */
  'send-queue-full',
] as const;
export type RpcErrorCode = (typeof RPC_ERROR_CODES)[number];

/** What `PeerMesh.request` rejects with. */
export class RpcError extends CodedError<RpcErrorCode> {
  override readonly name = 'RpcError';
}

export function isCodecError(e: unknown): e is CodecError {
  return e instanceof CodecError;
}

export function isRpcError(e: unknown): e is RpcError {
  return e instanceof RpcError;
}
