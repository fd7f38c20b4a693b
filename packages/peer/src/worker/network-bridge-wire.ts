/**
 * The messages of the network bridge (network-bridge.ts, the worker's side;
 * network-bridge-main.ts, the main thread's), their schemas, and the
 * deadlines each side keeps. Every message is validated on arrival.
 */
import { ExpertError, type WireTensor } from '@peerbench/mesh';
import { WIRE_DTYPES } from '@peerbench/protocol';
import * as v from 'valibot';
import {
  CallIdSchema,
  checkTensor,
  ErrorCodeSchema,
  IdSchema,
  type MessagePortLike,
  MessageTextSchema,
  TensorSchema,
  transferableTensor,
} from './port.js';

/**
 * Extra time the worker waits beyond a call's own timeout before giving up on
 * the main thread's answer (the main thread's network enforces the timeout;
 * this only guarantees the worker never waits forever).
 */
export const BRIDGE_TIMEOUT_SLACK_MS = 1000;
/** Longest the main thread waits for the worker to answer an incoming expert call. */
export const SERVE_CALL_TIMEOUT_MS = 30_000;
/** Longest the worker waits for a ping answer. */
export const PING_TIMEOUT_MS = 10_000;

const WireDtypeSchema = v.picklist(WIRE_DTYPES);
const OpSchema = v.picklist(['forward', 'backward']);
const NetworkEventSchema = v.picklist(['peer-connected', 'peer-disconnected']);

/** Worker → main. */
export const UpSchema = v.variant('t', [
  v.object({ t: v.literal('open') }),
  v.object({
    t: v.literal('call'),
    id: CallIdSchema,
    op: OpSchema,
    peerId: IdSchema,
    rid: IdSchema,
    tensor: TensorSchema,
    timeoutMs: v.pipe(v.number(), v.minValue(0), v.maxValue(600_000)),
    wireDtype: WireDtypeSchema,
  }),
  v.object({ t: v.literal('ping'), id: CallIdSchema, peerId: IdSchema }),
  v.object({ t: v.literal('cancel'), id: CallIdSchema }),
  v.object({ t: v.literal('serve'), on: v.boolean() }),
  v.object({
    t: v.literal('served'),
    id: CallIdSchema,
    ok: v.literal(true),
    tensor: v.optional(TensorSchema),
  }),
  v.object({
    t: v.literal('served'),
    id: CallIdSchema,
    ok: v.literal(false),
    code: ErrorCodeSchema,
    message: MessageTextSchema,
  }),
  v.object({ t: v.literal('close') }),
]);
export type Up = v.InferOutput<typeof UpSchema>;

/** Main → worker. */
export const DownSchema = v.variant('t', [
  v.object({ t: v.literal('opened'), peers: v.pipe(v.array(IdSchema), v.maxLength(10_000)) }),
  v.object({ t: v.literal('open-failed'), message: MessageTextSchema }),
  v.object({
    t: v.literal('result'),
    id: CallIdSchema,
    ok: v.literal(true),
    tensor: v.optional(TensorSchema),
    value: v.optional(v.pipe(v.number(), v.finite())),
  }),
  v.object({
    t: v.literal('result'),
    id: CallIdSchema,
    ok: v.literal(false),
    code: ErrorCodeSchema,
    message: MessageTextSchema,
  }),
  v.object({ t: v.literal('peer'), event: NetworkEventSchema, peerId: IdSchema }),
  v.object({
    t: v.literal('serve-call'),
    id: CallIdSchema,
    op: OpSchema,
    from: IdSchema,
    rid: IdSchema,
    tensor: TensorSchema,
  }),
  v.object({ t: v.literal('serve-cancel'), id: CallIdSchema }),
]);
export type Down = v.InferOutput<typeof DownSchema>;

/** What a call from the worker waits for. */
export type CallOp = 'forward' | 'backward' | 'ping';

export function send(port: MessagePortLike, message: Up | Down, tensor?: WireTensor): void {
  if (!tensor) {
    port.postMessage(message, []);
    return;
  }
  const { tensor: copy, transfer } = transferableTensor(tensor);
  port.postMessage({ ...message, tensor: copy }, transfer);
}

/** The value a successful result carries for its call, or why it is unusable. */
export function answerOf(
  op: CallOp,
  msg: { tensor?: WireTensor | undefined; value?: number | undefined },
): ExpertError | { value: WireTensor | number | undefined } {
  if (op === 'forward') {
    if (!msg.tensor) return new ExpertError('invalid', 'forward answer without a tensor');
    const bad = checkTensor(msg.tensor);
    return bad ? new ExpertError('invalid', `forward answer: ${bad}`) : { value: msg.tensor };
  }
  if (op === 'ping') {
    if (msg.value === undefined || msg.value < 0)
      return new ExpertError('invalid', 'ping answer without a round-trip time');
    return { value: msg.value };
  }
  return { value: undefined };
}
