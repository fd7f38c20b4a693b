/**
 * Peer RPC messages: what two peers say to each other over a data channel.
 * Six kinds, each with a numeric request id (u32, never 0) chosen by the side
 * that sends the request / ping:
 *
 *   request  {id, method, tensors, meta, replyDtype}  → a handler runs
 *   response {id, tensors}                            ← the handler's result
 *   error    {id, code, message}                      ← the handler threw / request invalid
 *   cancel   {id}                                     → stop the handler (its ctx.signal aborts)
 *   ping     {id}  /  pong {id}                        RTT probe, answered by the mesh itself
 *
 * The paper's calls are methods: `expert.forward` (x → f_j(x)) and
 * `expert.backward` (∂L/∂f_j(x) → ack), named once here. The JSON header of a message (see codec.ts) is checked
 * against `RpcHeaderSchema` with valibot before anything else is read.
 */
import * as v from 'valibot';
import { RPC_ERROR_CODES, type RpcErrorCode } from './errors.js';
import {
  MAX_ERROR_MESSAGE_CHARS,
  MAX_META_ENTRIES,
  MAX_META_KEY_CHARS,
  MAX_META_VALUE_CHARS,
  MAX_METHOD_CHARS,
  MAX_REQUEST_ID,
  MAX_TENSORS_PER_MESSAGE,
} from './limits.js';

/** Ask an expert for its representation f_j(x) of a batch (the request id rides in `meta.rid`). */
export const EXPERT_FORWARD_METHOD = 'expert.forward';
/** Hand an expert the gradient ∂L/∂f_j(x) of an earlier forward (same `meta.rid`). */
export const EXPERT_BACKWARD_METHOD = 'expert.backward';

export const WIRE_DTYPES = ['fp32', 'fp16'] as const;
export type WireDtype = (typeof WIRE_DTYPES)[number];

/** A tensor as the mesh hands it around: always float32 in memory, row-major. */
export interface WireTensor {
  shape: number[];
  data: Float32Array;
}

export type RpcMeta = Record<string, string | number>;

export type RpcMessage =
  | {
      kind: 'request';
      id: number;
      method: string;
      tensors: WireTensor[];
      meta: RpcMeta;
      /** Wire dtype the tensors travel in. */
      dtype: WireDtype;
      /** Wire dtype the caller wants the response in. */
      replyDtype: WireDtype;
    }
  | { kind: 'response'; id: number; tensors: WireTensor[]; dtype: WireDtype }
  | { kind: 'error'; id: number; code: RpcErrorCode; message: string }
  | { kind: 'cancel'; id: number }
  | { kind: 'ping'; id: number }
  | { kind: 'pong'; id: number };

export type RpcMessageKind = RpcMessage['kind'];

const RequestIdSchema = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_REQUEST_ID));

/**
 * dtype is any short string here so that an unknown dtype gets its own code
 * ('bad-dtype'); shape length is capped loosely here and exactly (MAX_TENSOR_DIMS,
 * 'too-many-dims') by the codec for the same reason.
 */
export const TensorHeaderSchema = v.strictObject({
  dtype: v.pipe(v.string(), v.maxLength(16)),
  shape: v.pipe(
    v.array(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0x7fff_ffff))),
    v.maxLength(64),
  ),
});
export type TensorHeader = v.InferOutput<typeof TensorHeaderSchema>;

export const RpcMetaSchema = v.pipe(
  v.record(
    v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_META_KEY_CHARS)),
    v.union([v.pipe(v.string(), v.maxLength(MAX_META_VALUE_CHARS)), v.pipe(v.number(), v.finite())]),
  ),
  v.check((r) => Object.keys(r).length <= MAX_META_ENTRIES, `meta has more than ${MAX_META_ENTRIES} entries`),
);

const Tensors = v.pipe(v.array(TensorHeaderSchema), v.maxLength(MAX_TENSORS_PER_MESSAGE));

export const RpcHeaderSchema = v.variant('kind', [
  v.strictObject({
    kind: v.literal('request'),
    id: RequestIdSchema,
    method: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_METHOD_CHARS)),
    tensors: Tensors,
    meta: v.optional(RpcMetaSchema),
    replyDtype: v.optional(v.picklist(WIRE_DTYPES)),
  }),
  v.strictObject({ kind: v.literal('response'), id: RequestIdSchema, tensors: Tensors }),
  v.strictObject({
    kind: v.literal('error'),
    id: RequestIdSchema,
    code: v.picklist(RPC_ERROR_CODES),
    message: v.pipe(v.string(), v.maxLength(MAX_ERROR_MESSAGE_CHARS)),
  }),
  v.strictObject({ kind: v.literal('cancel'), id: RequestIdSchema }),
  v.strictObject({ kind: v.literal('ping'), id: RequestIdSchema }),
  v.strictObject({ kind: v.literal('pong'), id: RequestIdSchema }),
]);
export type RpcHeader = v.InferOutput<typeof RpcHeaderSchema>;
