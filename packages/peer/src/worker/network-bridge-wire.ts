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
/**
 * Longest the worker waits for the answer to a neighbourhood `link` (the
 * main thread's Neighbourhood settles within its own connect deadline,
 * 15 s for the mesh; this only guarantees the worker never waits forever).
 */
export const LINK_BRIDGE_TIMEOUT_MS = 60_000;
/** Longest the worker waits for a fresh sample of members. */
export const SAMPLE_BRIDGE_TIMEOUT_MS = 20_000;
/** Most member ids one message may carry (the server's samples are far smaller). */
export const MAX_BRIDGE_CANDIDATES = 10_000;
/** Highest D the bridge accepts (a bound for the check, far above any useful degree). */
export const MAX_BRIDGE_LINKS = 1024;

const WireDtypeSchema = v.picklist(WIRE_DTYPES);
const OpSchema = v.picklist(['forward', 'backward']);
const NetworkEventSchema = v.picklist(['peer-connected', 'peer-disconnected']);
const PeerIdsSchema = v.pipe(v.array(IdSchema), v.maxLength(MAX_BRIDGE_CANDIDATES));
const RoomSizeSchema = v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0)));
/** The main thread's Neighbourhood as the worker first sees it (in `opened`). */
export const NeighbourhoodInfoSchema = v.object({
  maxLinks: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_BRIDGE_LINKS)),
  peerIds: PeerIdsSchema,
  roomSize: RoomSizeSchema,
});
export type NeighbourhoodInfo = v.InferOutput<typeof NeighbourhoodInfoSchema>;

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
  // The Neighbourhood contract (packages/mesh neighbourhood.ts), worker → main.
  v.object({ t: v.literal('link'), id: CallIdSchema, peerId: IdSchema }),
  v.object({ t: v.literal('unlink'), peerId: IdSchema }),
  v.object({ t: v.literal('sample'), id: CallIdSchema }),
]);
export type Up = v.InferOutput<typeof UpSchema>;

/** Main → worker. */
export const DownSchema = v.variant('t', [
  v.object({
    t: v.literal('opened'),
    peers: PeerIdsSchema,
    /** Present when the main thread's network chooses its links (bounded neighbourhoods). */
    neighbourhood: v.optional(NeighbourhoodInfoSchema),
  }),
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
  // Answers of the Neighbourhood contract, main → worker.
  v.object({ t: v.literal('linked'), id: CallIdSchema, ok: v.boolean() }),
  /** Members the worker may link to: the answer to `sample` (id), or news (id null). */
  v.object({
    t: v.literal('candidates'),
    id: v.nullable(CallIdSchema),
    peerIds: PeerIdsSchema,
    roomSize: RoomSizeSchema,
  }),
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
