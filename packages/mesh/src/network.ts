/**
 * What the learning runtime needs from "the network": send a batch to an
 * expert and get its representation back, send the gradient of that answer
 * back, and serve the same two calls to others. Two implementations:
 * `InMemoryExpertNetwork` (several peers in one process, for tests and swarm
 * experiments) and `MeshExpertNetwork` (a thin adapter over the WebRTC mesh).
 * The trainer never sees anything else of the transport.
 */

import {
  CodedError,
  RPC_ERROR_CODES,
  type RpcErrorCode,
  type WireDtype,
  type WireTensor,
} from '@peerbench/protocol';
import type { Neighbourhood } from './neighbourhood.js';

/**
 * A dense float tensor as it crosses a wire, and its precision there (fp16
 * halves the bytes of the request and of the answer). The same types as the
 * mesh's, re-exported so both can be exported side by side from the package.
 */
export type { WireDtype, WireTensor };

export interface ForwardOptions {
  /** Caller-chosen id that the matching `backward` repeats, so the expert finds its saved input. */
  requestId: string;
  timeoutMs: number;
  signal?: AbortSignal;
  wireDtype?: WireDtype;
}

export interface BackwardOptions {
  requestId: string;
  timeoutMs: number;
  signal?: AbortSignal;
  wireDtype?: WireDtype;
}

/** The serving side: what an expert does when asked. */
export interface ExpertHandlers {
  forward(from: string, requestId: string, x: WireTensor, signal: AbortSignal): Promise<WireTensor>;
  backward(from: string, requestId: string, grad: WireTensor, signal: AbortSignal): Promise<void>;
}

export type NetworkEvent = 'peer-connected' | 'peer-disconnected';

export interface ExpertNetwork {
  /** The id others know this peer by. */
  readonly selfId: string;
  /** Peers reachable right now (never includes self). */
  peers(): string[];
  forward(peerId: string, x: WireTensor, opts: ForwardOptions): Promise<WireTensor>;
  backward(peerId: string, grad: WireTensor, opts: BackwardOptions): Promise<void>;
  /** Starts answering; returns a function that stops. */
  serve(handlers: ExpertHandlers): () => void;
  /** Round-trip time in ms, when the transport can measure it. */
  ping?(peerId: string): Promise<number>;
  /** Subscribes to membership changes; returns an unsubscribe function. */
  on?(event: NetworkEvent, cb: (peerId: string) => void): () => void;
  /**
   * Present when links are chosen by the peer (bounded neighbourhoods, issue
   * 14) rather than formed with every member of the room.
   */
  readonly neighbourhood?: Neighbourhood;
}

/** The same codes as the mesh's RpcError (one list, in packages/protocol). */
export type ExpertErrorCode = RpcErrorCode;
export const EXPERT_ERROR_CODES = RPC_ERROR_CODES;

/** Error with a stable code, matching the mesh's RpcError codes. */
export class ExpertError extends CodedError<ExpertErrorCode> {
  override readonly name = 'ExpertError';
}

/** An ExpertError from anything thrown: known codes (RpcError's too) pass through, the rest become 'rejected'. */
export function toExpertError(err: unknown): ExpertError {
  if (err instanceof ExpertError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && (EXPERT_ERROR_CODES as readonly string[]).includes(code))
    return new ExpertError(code as ExpertErrorCode, message);
  return new ExpertError('rejected', message);
}

/** Largest batch an expert accepts in one forward (rows). */
export const MAX_FORWARD_ROWS = 1024;

export function tensorSize(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Checks a received tensor: the expected rank and dims (null = any), data
 * length matching the shape, every value finite. Returns a reason or null.
 */
export function invalidTensorReason(t: WireTensor | undefined, expected: (number | null)[]): string | null {
  if (!t || !Array.isArray(t.shape) || !(t.data instanceof Float32Array)) return 'not a tensor';
  if (t.shape.length !== expected.length) return `rank ${t.shape.length}, expected ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i];
    const got = t.shape[i]!;
    if (!Number.isInteger(got) || got < 0) return `bad dim ${got}`;
    if (want !== null && want !== undefined && got !== want)
      return `shape [${t.shape}], expected [${expected}]`;
  }
  if (t.data.length !== tensorSize(t.shape))
    return `data length ${t.data.length} does not match shape [${t.shape}]`;
  for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i]!)) return 'non-finite value';
  return null;
}

/** Bytes a tensor takes on the wire at a dtype (payload only, no framing). */
export function wireBytes(t: WireTensor, dtype: WireDtype = 'fp32'): number {
  return t.data.length * (dtype === 'fp16' ? 2 : 4);
}

export function cloneTensor(t: WireTensor): WireTensor {
  return { shape: t.shape.slice(), data: new Float32Array(t.data) };
}
