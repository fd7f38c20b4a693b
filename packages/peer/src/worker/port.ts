/**
 * What the worker bridges need from a message port, and the checks every
 * message crossing it goes through. A port is a boundary like a wire: the
 * other side is our own code, but in another thread with its own bugs, so
 * tensors are checked (shape, size, finite) before they reach the model or
 * the mesh, and malformed messages are dropped with a reason, never thrown
 * into the port's event loop.
 */

import {
  EXPERT_ERROR_CODES,
  type ExpertErrorCode,
  invalidTensorReason,
  toExpertError,
  type WireTensor,
} from '@peerbench/mesh';
import { issueText } from '@peerbench/protocol';
import * as v from 'valibot';

/**
 * The structural part of a MessagePort (browser `MessagePort`, a dedicated
 * worker's global scope, Node's `worker_threads.MessagePort`).
 */
export interface MessagePortLike {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  /** Ports receive nothing until started when listened to with addEventListener. */
  start?(): void;
  close?(): void;
}

/** Largest tensor one bridge message may carry (elements); 4 Mi floats = 16 MiB. */
export const MAX_BRIDGE_TENSOR_ELEMENTS = 4 * 1024 * 1024;
/** Highest tensor rank that crosses the bridge (the runtime only sends matrices). */
export const MAX_BRIDGE_TENSOR_RANK = 4;
/** Longest peer id / request id / error message accepted from the other side. */
export const MAX_BRIDGE_ID_CHARS = 256;
export const MAX_BRIDGE_MESSAGE_CHARS = 2000;

/** Listens to a port's messages; returns the function that stops listening. */
export function listen(port: MessagePortLike, onMessage: (data: unknown) => void): () => void {
  const listener = (event: { data: unknown }) => onMessage(event.data);
  port.addEventListener('message', listener);
  port.start?.();
  return () => port.removeEventListener('message', listener);
}

/**
 * A copy of the tensor whose buffer can be transferred (moved, not cloned)
 * to the other thread. Copying first keeps the caller's buffer usable: the
 * trainer may send one batch to several experts, and a transferred buffer is
 * detached on this side. The copy costs what structured cloning would have.
 */
export function transferableTensor(t: WireTensor): { tensor: WireTensor; transfer: ArrayBuffer[] } {
  const data = new Float32Array(t.data);
  return { tensor: { shape: t.shape.slice(), data }, transfer: [data.buffer as ArrayBuffer] };
}

export const IdSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_BRIDGE_ID_CHARS));
export const CallIdSchema = v.pipe(v.number(), v.integer(), v.minValue(0));
export const MessageTextSchema = v.pipe(v.string(), v.maxLength(MAX_BRIDGE_MESSAGE_CHARS));

/** Shape and container of a tensor; the values are checked by `checkTensor`. */
export const TensorSchema = v.object({
  shape: v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(0))), v.maxLength(MAX_BRIDGE_TENSOR_RANK)),
  data: v.instance(Float32Array),
});

/** Null when `t` is a well-formed finite tensor within the size cap, else the reason. */
export function checkTensor(t: WireTensor): string | null {
  if (t.data.length > MAX_BRIDGE_TENSOR_ELEMENTS)
    return `tensor of ${t.data.length} elements exceeds ${MAX_BRIDGE_TENSOR_ELEMENTS}`;
  return invalidTensorReason(
    t,
    t.shape.map(() => null),
  );
}

export const ErrorCodeSchema = v.picklist(EXPERT_ERROR_CODES);

/** The error as it crosses the port (Error objects lose their class in structured cloning). */
export function errorFields(err: unknown): { code: ExpertErrorCode; message: string } {
  const e = toExpertError(err);
  return { code: e.code, message: e.message.slice(0, MAX_BRIDGE_MESSAGE_CHARS) };
}

export interface BridgeOptions {
  /** Called with the reason whenever a malformed message from the other side is dropped. */
  onInvalid?: (reason: string) => void;
}

/** Why a message from the other side was dropped; bridges count these and report them to `onInvalid`. */
export interface BridgeDrop {
  reason: string;
}

/**
 * The receiving side of a bridge endpoint, the one way a bridge takes in
 * messages from the other side: each is read with `schema`; a malformed one
 * is counted in `dropped`, handed to `onMalformed` (so a call it names can
 * still be settled) and its reason to `onInvalid`; nothing is delivered after
 * `close()`, which also stops listening.
 */
export class PortInbox<S extends v.GenericSchema> {
  /** Messages dropped because they failed validation. */
  dropped = 0;
  private open = true;
  private readonly unlisten: () => void;

  constructor(
    port: MessagePortLike,
    schema: S,
    deliver: (msg: v.InferOutput<S>) => void,
    opts: BridgeOptions & { onMalformed?: (data: unknown, reason: string) => void } = {},
  ) {
    this.unlisten = listen(port, (data) => {
      if (!this.open) return;
      const parsed = v.safeParse(schema, data);
      if (parsed.success) return deliver(parsed.output);
      const reason = issueText(parsed.issues);
      opts.onMalformed?.(data, reason);
      this.dropped++;
      opts.onInvalid?.(reason);
    });
  }

  get closed(): boolean {
    return !this.open;
  }

  /** Stops delivering and listening; false when it was already closed. */
  close(): boolean {
    if (!this.open) return false;
    this.open = false;
    this.unlisten();
    return true;
  }
}
