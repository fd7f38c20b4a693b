/**
 * The tensor codec: one RPC message as bytes (before chunking into frames).
 *
 *   u32 LE  headerBytes            length of the JSON header (≤ MAX_HEADER_BYTES)
 *   bytes   header                 UTF-8 JSON matching RpcHeaderSchema
 *   bytes   payload                the tensors' data, in header order, back to back:
 *                                  fp32 → 4 bytes/element, fp16 → 2 bytes/element,
 *                                  little-endian, row-major
 *
 * The payload length must equal exactly what the header's shapes and dtypes
 * imply. Tensors are checked on both sides: shape × dtype = bytes, ≤ 8 dims,
 * ≤ MAX_TENSOR_BYTES, no NaN/±Inf. Every failure is a CodecError with a code.
 */
import * as v from 'valibot';
import { CodecError } from './errors.js';
import { decodeFloat16Array, encodeFloat16Array } from './fp16.js';
import {
  MAX_HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_TENSOR_BYTES,
  MAX_TENSOR_DIMS,
  MAX_TENSORS_PER_MESSAGE,
} from './limits.js';
import {
  type RpcHeader,
  RpcHeaderSchema,
  type RpcMessage,
  type TensorHeader,
  type WireDtype,
  type WireTensor,
} from './rpc.js';
import { invalidValueText } from './schema-issues.js';

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export function bytesPerElement(dtype: WireDtype): number {
  return dtype === 'fp32' ? 4 : 2;
}

/** Number of elements a shape holds; throws CodecError on too many dims or bytes. */
export function shapeElements(shape: readonly number[], dtype: WireDtype = 'fp32'): number {
  if (shape.length > MAX_TENSOR_DIMS) {
    throw new CodecError('too-many-dims', `tensor has ${shape.length} dims; the limit is ${MAX_TENSOR_DIMS}`);
  }
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0 || d > 0x7fff_ffff) {
      throw new CodecError('shape-mismatch', `shape dim ${String(d)} is not a non-negative integer`);
    }
    n *= d;
    // Checked per dim so the product never leaves the exact-integer range.
    if (n * bytesPerElement(dtype) > MAX_TENSOR_BYTES) {
      throw new CodecError(
        'too-large',
        `tensor of shape [${shape.join(',')}] exceeds ${MAX_TENSOR_BYTES} bytes`,
      );
    }
  }
  return n;
}

function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    // x - x is NaN exactly for NaN and ±Infinity.
    if (x - x !== 0) return i;
  }
  return -1;
}

function checkTensor(t: WireTensor, dtype: WireDtype): number {
  if (!(t.data instanceof Float32Array))
    throw new CodecError('shape-mismatch', 'tensor data must be a Float32Array');
  const n = shapeElements(t.shape, dtype);
  if (n !== t.data.length) {
    throw new CodecError(
      'shape-mismatch',
      `shape [${t.shape.join(',')}] holds ${n} elements but data has ${t.data.length}`,
    );
  }
  return n;
}

function headerOf(msg: RpcMessage): RpcHeader {
  switch (msg.kind) {
    case 'request': {
      const h: RpcHeader = {
        kind: 'request',
        id: msg.id,
        method: msg.method,
        tensors: msg.tensors.map((t) => ({ dtype: msg.dtype, shape: t.shape })),
      };
      if (Object.keys(msg.meta).length > 0) h.meta = msg.meta;
      if (msg.replyDtype !== 'fp32') h.replyDtype = msg.replyDtype;
      return h;
    }
    case 'response':
      return {
        kind: 'response',
        id: msg.id,
        tensors: msg.tensors.map((t) => ({ dtype: msg.dtype, shape: t.shape })),
      };
    case 'error':
      return { kind: 'error', id: msg.id, code: msg.code, message: msg.message };
    default:
      return { kind: msg.kind, id: msg.id };
  }
}

/** Encodes one RPC message. Throws CodecError if a tensor or the header breaks a limit. */
export function encodeRpcMessage(msg: RpcMessage): Uint8Array {
  const tensors = msg.kind === 'request' || msg.kind === 'response' ? msg.tensors : [];
  const dtype: WireDtype = msg.kind === 'request' || msg.kind === 'response' ? msg.dtype : 'fp32';
  const bpe = bytesPerElement(dtype);
  // Tensors first: their errors have more specific codes than the header schema's.
  let payloadBytes = 0;
  for (const t of tensors) payloadBytes += checkTensor(t, dtype) * bpe;
  const header = headerOf(msg);
  const check = v.safeParse(RpcHeaderSchema, header);
  if (!check.success) {
    throw new CodecError('invalid-header', `cannot encode: ${check.issues[0]?.message ?? 'schema mismatch'}`);
  }
  // Trailing spaces (valid JSON) put the payload on a 4-byte boundary, so the
  // receiver can view fp32 data in place instead of copying it.
  let json = JSON.stringify(header);
  json += ' '.repeat((4 - ((4 + textEncoder.encode(json).length) % 4)) % 4);
  const headerBytes = textEncoder.encode(json);
  if (headerBytes.length > MAX_HEADER_BYTES) {
    throw new CodecError(
      'too-large',
      `header is ${headerBytes.length} bytes; the limit is ${MAX_HEADER_BYTES}`,
    );
  }
  const total = 4 + headerBytes.length + payloadBytes;
  if (total > MAX_MESSAGE_BYTES) {
    throw new CodecError('too-large', `message is ${total} bytes; the limit is ${MAX_MESSAGE_BYTES}`);
  }
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, headerBytes.length, true);
  out.set(headerBytes, 4);
  let offset = 4 + headerBytes.length;
  for (const t of tensors) {
    if (dtype === 'fp32') {
      const bad = firstNonFinite(t.data);
      if (bad >= 0) throw new CodecError('nan-or-inf', `tensor value at ${bad} is ${t.data[bad]}`);
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      out.set(bytes, offset);
      if (!IS_LITTLE_ENDIAN) swapBytes(out.subarray(offset, offset + bytes.length), 4);
      offset += bytes.length;
    } else {
      const half = new Uint16Array(t.data.length);
      const bad = encodeFloat16Array(t.data, half);
      if (bad >= 0) {
        const x = t.data[bad]!;
        throw Number.isFinite(x)
          ? new CodecError('fp16-overflow', `tensor value ${x} at ${bad} does not fit fp16`)
          : new CodecError('nan-or-inf', `tensor value at ${bad} is ${x}`);
      }
      out.set(new Uint8Array(half.buffer), offset);
      if (!IS_LITTLE_ENDIAN) swapBytes(out.subarray(offset, offset + half.byteLength), 2);
      offset += half.byteLength;
    }
  }
  return out;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** Parses and validates only the JSON header. */
export function decodeRpcHeader(bytes: Uint8Array): { header: RpcHeader; payloadOffset: number } {
  if (bytes.length < 4)
    throw new CodecError('truncated', `message is ${bytes.length} bytes; no header length`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (headerLength > MAX_HEADER_BYTES) {
    throw new CodecError('too-large', `header is ${headerLength} bytes; the limit is ${MAX_HEADER_BYTES}`);
  }
  if (4 + headerLength > bytes.length) {
    throw new CodecError('truncated', `header needs ${headerLength} bytes; ${bytes.length - 4} present`);
  }
  let json: unknown;
  try {
    json = JSON.parse(textDecoder.decode(bytes.subarray(4, 4 + headerLength)));
  } catch {
    throw new CodecError('invalid-header', 'header is not UTF-8 JSON');
  }
  const result = v.safeParse(RpcHeaderSchema, json);
  if (!result.success) {
    throw new CodecError('invalid-header', invalidValueText('header', result.issues), {
      requestId: idOf(json),
      messageKind: kindOf(json),
    });
  }
  return { header: result.output, payloadOffset: 4 + headerLength };
}

function idOf(json: unknown): number | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const id = (json as { id?: unknown }).id;
  return typeof id === 'number' && Number.isInteger(id) && id >= 1 && id <= 0xffff_ffff ? id : undefined;
}
function kindOf(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const k = (json as { kind?: unknown }).kind;
  return typeof k === 'string' ? k.slice(0, 16) : undefined;
}

/**
 * Decodes one complete RPC message. fp32 tensors may be views into `bytes`
 * (zero-copy), so the caller must not reuse `bytes` afterwards.
 * Throws CodecError; when the header was
 * readable the error carries `requestId` and `messageKind` so a bad request
 * can still be answered with an `error` frame.
 */
export function decodeRpcMessage(bytes: Uint8Array): RpcMessage {
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new CodecError('too-large', `message is ${bytes.length} bytes; the limit is ${MAX_MESSAGE_BYTES}`);
  }
  const { header, payloadOffset } = decodeRpcHeader(bytes);
  const ctx = { requestId: header.id, messageKind: header.kind };
  if (header.kind !== 'request' && header.kind !== 'response') {
    if (bytes.length !== payloadOffset) {
      throw new CodecError(
        'shape-mismatch',
        `${header.kind} carries ${bytes.length - payloadOffset} stray bytes`,
        ctx,
      );
    }
    if (header.kind === 'error')
      return { kind: 'error', id: header.id, code: header.code, message: header.message };
    return { kind: header.kind, id: header.id };
  }
  const tensors = decodeTensors(header.tensors, bytes, payloadOffset, ctx);
  const dtype: WireDtype = (header.tensors[0]?.dtype as WireDtype | undefined) ?? 'fp32';
  if (header.kind === 'request') {
    return {
      kind: 'request',
      id: header.id,
      method: header.method,
      tensors,
      meta: header.meta ?? {},
      dtype,
      replyDtype: header.replyDtype ?? 'fp32',
    };
  }
  return { kind: 'response', id: header.id, tensors, dtype };
}

function decodeTensors(
  headers: TensorHeader[],
  bytes: Uint8Array,
  payloadOffset: number,
  ctx: { requestId: number; messageKind: string },
): WireTensor[] {
  if (headers.length > MAX_TENSORS_PER_MESSAGE) throw new CodecError('too-large', 'too many tensors', ctx);
  const sizes: number[] = [];
  let expected = 0;
  let firstDtype: string | undefined;
  for (const th of headers) {
    if (th.dtype !== 'fp32' && th.dtype !== 'fp16') {
      throw new CodecError('bad-dtype', `dtype '${th.dtype}' is not fp32 or fp16`, ctx);
    }
    // One dtype per message keeps the encoder and the reply-dtype rule simple.
    firstDtype ??= th.dtype;
    if (th.dtype !== firstDtype)
      throw new CodecError('bad-dtype', 'tensors of one message must share a dtype', ctx);
    let n: number;
    try {
      n = shapeElements(th.shape, th.dtype);
    } catch (e) {
      throw e instanceof CodecError ? new CodecError(e.code, e.message, ctx) : e;
    }
    sizes.push(n);
    expected += n * bytesPerElement(th.dtype);
  }
  const present = bytes.length - payloadOffset;
  if (present < expected)
    throw new CodecError('truncated', `payload is ${present} bytes; shapes need ${expected}`, ctx);
  if (present > expected) {
    throw new CodecError('shape-mismatch', `payload is ${present} bytes; shapes need ${expected}`, ctx);
  }
  const out: WireTensor[] = [];
  let offset = payloadOffset;
  for (let i = 0; i < headers.length; i++) {
    const th = headers[i]!;
    const n = sizes[i]!;
    let data: Float32Array;
    if (th.dtype === 'fp32') {
      if (IS_LITTLE_ENDIAN && (bytes.byteOffset + offset) % 4 === 0) {
        // Zero-copy: the tensor is a view into the message buffer (the encoder aligns it).
        data = new Float32Array(bytes.buffer, bytes.byteOffset + offset, n);
      } else {
        data = new Float32Array(n);
        const dst = new Uint8Array(data.buffer);
        dst.set(bytes.subarray(offset, offset + n * 4));
        if (!IS_LITTLE_ENDIAN) swapBytes(dst, 4);
      }
      const bad = firstNonFinite(data);
      if (bad >= 0) throw new CodecError('nan-or-inf', `tensor ${i} value at ${bad} is ${data[bad]}`, ctx);
      offset += n * 4;
    } else {
      data = new Float32Array(n);
      const half = new Uint16Array(n);
      const dst = new Uint8Array(half.buffer);
      dst.set(bytes.subarray(offset, offset + n * 2));
      if (!IS_LITTLE_ENDIAN) swapBytes(dst, 2);
      const bad = decodeFloat16Array(half, data);
      if (bad >= 0) throw new CodecError('nan-or-inf', `tensor ${i} fp16 value at ${bad} is not finite`, ctx);
      offset += n * 2;
    }
    out.push({ shape: [...th.shape], data });
  }
  return out;
}
