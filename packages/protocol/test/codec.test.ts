import { describe, expect, it } from 'vitest';
import {
  CodecError,
  decodeRpcMessage,
  encodeRpcMessage,
  MAX_HEADER_BYTES,
  MAX_TENSOR_BYTES,
  type RpcMessage,
} from '../src/index.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CodecError) return e.code;
    throw e;
  }
  return 'no-error';
}

function withHeader(header: unknown, payload: Uint8Array = new Uint8Array()): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + h.length + payload.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 4);
  out.set(payload, 4 + h.length);
  return out;
}

const request = (
  tensors: Extract<RpcMessage, { kind: 'request' }>['tensors'],
  dtype: 'fp32' | 'fp16' = 'fp32',
) =>
  ({
    kind: 'request',
    id: 7,
    method: 'forward',
    tensors,
    meta: { step: 3, tag: 'x' },
    dtype,
    replyDtype: 'fp16',
  }) as const;

describe('tensor codec', () => {
  it('round-trips fp32 tensors bit-exactly, meta and reply dtype included', () => {
    const a = { shape: [2, 3], data: new Float32Array([1, -2.5, 3e-30, 4e30, 0, -0.125]) };
    const b = { shape: [0, 4], data: new Float32Array(0) };
    const c = { shape: [], data: new Float32Array([42]) };
    const out = decodeRpcMessage(encodeRpcMessage(request([a, b, c])));
    expect(out).toEqual(request([a, b, c]));
  });

  it('round-trips fp16 within 1e-3 relative error and halves the payload', () => {
    const data = new Float32Array(1000).map((_, i) => (i - 500) * 0.37 + 0.001);
    const fp32 = encodeRpcMessage(request([{ shape: [10, 100], data }]));
    const fp16 = encodeRpcMessage(request([{ shape: [10, 100], data }], 'fp16'));
    expect(fp32.length - fp16.length).toBeGreaterThanOrEqual(2000 - 10);
    const out = decodeRpcMessage(fp16);
    if (out.kind !== 'request') throw new Error('kind');
    expect(out.dtype).toBe('fp16');
    const got = out.tensors[0]!.data;
    for (let i = 0; i < data.length; i++) {
      expect(Math.abs(got[i]! - data[i]!)).toBeLessThanOrEqual(Math.abs(data[i]!) * 1e-3);
    }
  });

  it('encodes control messages without payload', () => {
    for (const m of [
      { kind: 'cancel', id: 1 },
      { kind: 'ping', id: 2 },
      { kind: 'pong', id: 0xffffffff },
      { kind: 'error', id: 3, code: 'rejected', message: 'boom' },
    ] as RpcMessage[]) {
      expect(decodeRpcMessage(encodeRpcMessage(m))).toEqual(m);
    }
  });

  it('rejects bad tensors on encode with codes', () => {
    expect(
      codeOf(() => encodeRpcMessage(request([{ shape: [2], data: new Float32Array([1, Number.NaN]) }]))),
    ).toBe('nan-or-inf');
    expect(
      codeOf(() => encodeRpcMessage(request([{ shape: [1], data: new Float32Array([Infinity]) }]))),
    ).toBe('nan-or-inf');
    expect(
      codeOf(() => encodeRpcMessage(request([{ shape: [1], data: new Float32Array([1e6]) }], 'fp16'))),
    ).toBe('fp16-overflow');
    expect(codeOf(() => encodeRpcMessage(request([{ shape: [3], data: new Float32Array(2) }])))).toBe(
      'shape-mismatch',
    );
    expect(codeOf(() => encodeRpcMessage(request([{ shape: [1.5], data: new Float32Array(2) }])))).toBe(
      'shape-mismatch',
    );
    expect(
      codeOf(() => encodeRpcMessage(request([{ shape: Array(9).fill(1), data: new Float32Array(1) }]))),
    ).toBe('too-many-dims');
    expect(
      codeOf(() =>
        encodeRpcMessage(request([{ shape: [MAX_TENSOR_BYTES / 4 + 1], data: new Float32Array(1) }])),
      ),
    ).toBe('too-large');
    expect(codeOf(() => encodeRpcMessage({ ...request([]), method: '' }))).toBe('invalid-header');
  });

  it('rejects bad bytes on decode with codes, keeping the request id when readable', () => {
    const t = (dtype: string, shape: number[]) => ({
      kind: 'request',
      id: 9,
      method: 'm',
      tensors: [{ dtype, shape }],
    });
    expect(codeOf(() => decodeRpcMessage(new Uint8Array([1, 0])))).toBe('truncated');
    expect(codeOf(() => decodeRpcMessage(new Uint8Array([255, 255, 0, 0])))).toBe('too-large');
    expect(codeOf(() => decodeRpcMessage(new Uint8Array([10, 0, 0, 0, 1])))).toBe('truncated');
    expect(codeOf(() => decodeRpcMessage(withHeader('not json').subarray(0, 6)))).toBe('truncated');
    expect(codeOf(() => decodeRpcMessage(new Uint8Array([2, 0, 0, 0, 123, 123])))).toBe('invalid-header');
    expect(
      codeOf(() => decodeRpcMessage(withHeader({ kind: 'request', id: 0, method: 'm', tensors: [] }))),
    ).toBe('invalid-header');
    expect(codeOf(() => decodeRpcMessage(withHeader(t('int8', [2]), new Uint8Array(2))))).toBe('bad-dtype');
    expect(codeOf(() => decodeRpcMessage(withHeader(t('fp32', [2]), new Uint8Array(7))))).toBe('truncated');
    expect(codeOf(() => decodeRpcMessage(withHeader(t('fp32', [2]), new Uint8Array(9))))).toBe(
      'shape-mismatch',
    );
    expect(codeOf(() => decodeRpcMessage(withHeader(t('fp32', Array(9).fill(1)), new Uint8Array(4))))).toBe(
      'too-many-dims',
    );
    expect(codeOf(() => decodeRpcMessage(withHeader(t('fp32', [1 << 30]))))).toBe('too-large');
    const nan = new Uint8Array(new Float32Array([1, Number.NaN]).buffer);
    expect(codeOf(() => decodeRpcMessage(withHeader(t('fp32', [2]), nan)))).toBe('nan-or-inf');
    const inf16 = new Uint8Array(new Uint16Array([0x3c00, 0x7c00]).buffer);
    expect(codeOf(() => decodeRpcMessage(withHeader(t('fp16', [2]), inf16)))).toBe('nan-or-inf');
    expect(codeOf(() => decodeRpcMessage(withHeader({ kind: 'ping', id: 1 }, new Uint8Array(1))))).toBe(
      'shape-mismatch',
    );
    expect(codeOf(() => decodeRpcMessage(withHeader({ kind: 'ping', id: 1, extra: 1 })))).toBe(
      'invalid-header',
    );
    expect(
      codeOf(() =>
        decodeRpcMessage(withHeader({ kind: 'request', id: 1, method: 'x'.repeat(MAX_HEADER_BYTES) })),
      ),
    ).toBe('too-large');
    try {
      decodeRpcMessage(withHeader(t('fp32', [2]), nan));
    } catch (e) {
      expect((e as CodecError).requestId).toBe(9);
      expect((e as CodecError).messageKind).toBe('request');
    }
  });

  it('limits meta entries and value sizes', () => {
    const meta: Record<string, number> = {};
    for (let i = 0; i < 17; i++) meta[`k${i}`] = i;
    expect(codeOf(() => encodeRpcMessage({ ...request([]), meta }))).toBe('invalid-header');
    expect(codeOf(() => encodeRpcMessage({ ...request([]), meta: { a: 'x'.repeat(257) } }))).toBe(
      'invalid-header',
    );
  });
});
