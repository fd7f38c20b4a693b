/**
 * Property and fuzz tests of the decoder and the reassembler: 10,000+ random
 * and mutated messages. Everything that is thrown must be a CodecError, valid
 * messages must come back exactly, and the reassembler's limits must hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CodecError,
  decodeRpcMessage,
  encodeRpcMessage,
  FRAME_CHUNK_BYTES,
  frameMessage,
  MAX_FRAME_BYTES,
  Reassembler,
  RPC_ERROR_CODES,
  type RpcMessage,
  type WireTensor,
} from '../src/index.js';

let counted = 0;

const shapeArb = fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 });
/** Fills big tensors from a seed: generating 10k floats one by one through fast-check is too slow. */
function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = ((x / 0xffffffff) * 2 - 1) * 2 ** ((x & 31) - 16);
  }
  return out;
}
const tensorArb = (big: boolean): fc.Arbitrary<WireTensor> =>
  big
    ? fc
        .tuple(fc.integer({ min: 0, max: 12_000 }), fc.integer())
        .map(([n, seed]) => ({ shape: [n], data: seeded(n, seed) }))
    : shapeArb.chain((shape) => {
        const n = shape.reduce((a, b) => a * b, 1);
        return fc
          .float32Array({
            noNaN: true,
            noDefaultInfinity: true,
            min: -60000,
            max: 60000,
            minLength: n,
            maxLength: n,
          })
          .map((data) => ({ shape, data }));
      });
const metaArb = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 8 }),
  fc.oneof(fc.string({ maxLength: 20 }), fc.integer({ min: -1e9, max: 1e9 })),
  { maxKeys: 5 },
);
const idArb = fc.integer({ min: 1, max: 0xffffffff });
const dtypeArb = fc.constantFrom('fp32' as const, 'fp16' as const);

const messageArb = (big = false): fc.Arbitrary<RpcMessage> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('request' as const),
      id: idArb,
      method: fc.string({ minLength: 1, maxLength: 12 }),
      tensors: fc.array(tensorArb(big), { maxLength: big ? 3 : 4 }),
      meta: metaArb,
      dtype: dtypeArb,
      replyDtype: dtypeArb,
    }),
    fc.record({
      kind: fc.constant('response' as const),
      id: idArb,
      tensors: fc.array(tensorArb(big), { maxLength: 4 }),
      dtype: dtypeArb,
    }),
    fc.record({
      kind: fc.constant('error' as const),
      id: idArb,
      code: fc.constantFrom(...RPC_ERROR_CODES),
      message: fc.string({ maxLength: 50 }),
    }),
    fc.record({ kind: fc.constantFrom('cancel' as const, 'ping' as const, 'pong' as const), id: idArb }),
  );

/** Decoded form of a valid message: empty tensor lists always read back as fp32. */
function expectSameMessage(got: RpcMessage, sent: RpcMessage): void {
  expect(got.kind).toBe(sent.kind);
  expect(got.id).toBe(sent.id);
  if (
    (sent.kind === 'request' || sent.kind === 'response') &&
    (got.kind === 'request' || got.kind === 'response')
  ) {
    expect(got.tensors.length).toBe(sent.tensors.length);
    if (sent.tensors.length > 0) expect(got.dtype).toBe(sent.dtype);
    sent.tensors.forEach((t, i) => {
      const g = got.tensors[i]!;
      expect(g.shape).toEqual(t.shape);
      expect(g.data.length).toBe(t.data.length);
      let bad = -1;
      if (sent.dtype === 'fp32') {
        // Bit-exact, -0 included.
        const a = new Uint32Array(g.data.buffer, g.data.byteOffset, g.data.length);
        const b = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
        for (let k = 0; k < a.length && bad < 0; k++) if (a[k] !== b[k]) bad = k;
      } else {
        for (let k = 0; k < t.data.length && bad < 0; k++) {
          const x = t.data[k]!;
          const tol = Math.abs(x) >= 2 ** -14 ? Math.abs(x) * 2 ** -11 : 2 ** -25;
          if (!(Math.abs(g.data[k]! - x) <= tol)) bad = k;
        }
      }
      expect(bad).toBe(-1);
    });
    if (sent.kind === 'request' && got.kind === 'request') {
      expect(got.method).toBe(sent.method);
      expect(got.meta).toEqual(sent.meta);
      expect(got.replyDtype).toBe(sent.replyDtype);
    }
  } else {
    expect(got).toEqual(sent);
  }
}

function onlyCodecErrors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    if (typeof e.code !== 'string') throw new Error('CodecError without code');
  }
}

const mutationArb = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
);
type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  if (bytes.length === 0) return bytes;
  const at = m.at % bytes.length;
  switch (m.op) {
    case 'flip': {
      const out = bytes.slice();
      out[at]! ^= m.bits;
      return out;
    }
    case 'set': {
      const out = bytes.slice();
      out[at] = m.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, at);
    case 'insert': {
      const out = new Uint8Array(bytes.length + m.bytes.length);
      out.set(bytes.subarray(0, at));
      out.set(m.bytes, at);
      out.set(bytes.subarray(at), at + m.bytes.length);
      return out;
    }
  }
}

describe('codec fuzz', () => {
  it('round-trips 3,000 random valid messages exactly (fp32) / within 2^-11 (fp16)', () => {
    fc.assert(
      fc.property(messageArb(), (msg) => {
        counted++;
        expectSameMessage(decodeRpcMessage(encodeRpcMessage(msg)), msg);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);

  it('round-trips 400 multi-frame messages through frames and the reassembler', () => {
    fc.assert(
      fc.property(fc.array(messageArb(true), { minLength: 1, maxLength: 3 }), fc.integer(), (msgs, seed) => {
        counted += msgs.length;
        const r = new Reassembler();
        // Interleave the frames of several messages the way the sender may.
        const queues = msgs.map((m, i) => [...frameMessage(i + 1, encodeRpcMessage(m))]);
        for (const q of queues) for (const f of q) expect(f.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
        const got = new Map<number, RpcMessage>();
        const started: number[] = [];
        let rnd = seed >>> 0;
        let next = 0;
        while (queues.some((q) => q.length > 0)) {
          rnd = (rnd * 1103515245 + 12345) >>> 0;
          // First frames go out in id order; later chunks of started messages interleave freely.
          const candidates = started.filter((i) => queues[i]!.length > 0);
          if (next < queues.length && (candidates.length === 0 || rnd % 3 === 0)) candidates.push(next);
          const i = candidates[rnd % candidates.length]!;
          if (i === next) {
            started.push(next);
            next++;
          }
          const out = r.push(queues[i]!.shift()!);
          if (out) got.set(i, decodeRpcMessage(out));
        }
        msgs.forEach((m, i) => {
          expectSameMessage(got.get(i)!, m);
        });
        expect(r.inFlight).toBe(0);
      }),
      { numRuns: 400 },
    );
  }, 60_000);

  it('survives 4,000 mutated messages: only CodecError, and anything decoded is well formed', () => {
    fc.assert(
      fc.property(messageArb(), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (msg, muts) => {
        counted++;
        let bytes = encodeRpcMessage(msg);
        for (const m of muts) bytes = mutate(bytes, m);
        onlyCodecErrors(() => {
          const out = decodeRpcMessage(bytes);
          // A mutation may still decode (e.g. a flipped payload bit): then it must be valid.
          if (out.kind === 'request' || out.kind === 'response') {
            for (const t of out.tensors) {
              expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
              for (const x of t.data) expect(Number.isFinite(x)).toBe(true);
            }
          }
        });
      }),
      { numRuns: 4000 },
    );
  }, 60_000);

  it('survives 2,000 random byte strings and JSON headers', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.uint8Array({ maxLength: 40 })).map(([json, tail]) => {
            const h = new TextEncoder().encode(JSON.stringify(json) ?? 'null');
            const out = new Uint8Array(4 + h.length + tail.length);
            new DataView(out.buffer).setUint32(0, h.length, true);
            out.set(h, 4);
            out.set(tail, 4 + h.length);
            return out;
          }),
        ),
        (bytes) => {
          counted++;
          onlyCodecErrors(() => decodeRpcMessage(bytes));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('survives 1,000 streams of mutated, dropped, duplicated and reordered frames within its limits', () => {
    const frameOpArb = fc.oneof(
      { weight: 6, arbitrary: fc.constant({ op: 'pass' as const }) },
      fc.constant({ op: 'drop' as const }),
      fc.constant({ op: 'dup' as const }),
      fc.constant({ op: 'swap' as const }),
      fc.record({ op: fc.constant('mutate' as const), m: mutationArb }),
      fc.record({ op: fc.constant('garbage' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
    );
    fc.assert(
      fc.property(
        fc.array(messageArb(true), { minLength: 1, maxLength: 4 }),
        fc.array(frameOpArb, { minLength: 1, maxLength: 60 }),
        (msgs, ops) => {
          counted += msgs.length;
          const r = new Reassembler({ maxInFlight: 2, maxPartialBytes: 4 * FRAME_CHUNK_BYTES });
          const frames = msgs.flatMap((m, i) => [...frameMessage(i + 1, encodeRpcMessage(m))]);
          const stream: Uint8Array[] = [];
          for (let i = 0; i < frames.length; i++) {
            const op = ops[i % ops.length]!;
            const f = frames[i]!;
            if (op.op === 'pass') stream.push(f);
            else if (op.op === 'dup') stream.push(f, f);
            else if (op.op === 'swap' && i + 1 < frames.length) {
              stream.push(frames[i + 1]!, f);
              i++;
            } else if (op.op === 'mutate') stream.push(mutate(f, op.m));
            else if (op.op === 'garbage') stream.push(op.bytes, f);
          }
          for (const f of stream) {
            onlyCodecErrors(() => {
              const out = r.push(f);
              if (out) onlyCodecErrors(() => decodeRpcMessage(out));
            });
            if (r.inFlight > 2 || r.bufferedBytes > 4 * FRAME_CHUNK_BYTES) throw new Error('limit broken');
          }
        },
      ),
      { numRuns: 1000 },
    );
  }, 60_000);

  it('ran at least 10,000 messages in total', () => {
    expect(counted).toBeGreaterThanOrEqual(10_000);
  });
});
