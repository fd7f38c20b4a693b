import { describe, expect, it } from 'vitest';
import {
  CodecError,
  encodeAbortFrame,
  encodeFrame,
  FRAME_CHUNK_BYTES,
  FRAME_HEADER_BYTES,
  frameMessage,
  MAX_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
  Reassembler,
  ReassemblyBudget,
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

function message(bytes: number, seed = 1): Uint8Array {
  const m = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) m[i] = (i * 31 + seed) & 0xff;
  return m;
}

describe('frames', () => {
  it('never makes a frame larger than MAX_FRAME_BYTES and reassembles exactly', () => {
    for (const size of [
      1,
      FRAME_CHUNK_BYTES - 1,
      FRAME_CHUNK_BYTES,
      FRAME_CHUNK_BYTES + 1,
      3 * FRAME_CHUNK_BYTES + 5,
    ]) {
      const r = new Reassembler();
      const m = message(size);
      const frames = [...frameMessage(1, m)];
      expect(frames.every((f) => f.length <= MAX_FRAME_BYTES)).toBe(true);
      expect(frames.length).toBe(Math.ceil(size / FRAME_CHUNK_BYTES));
      let out: Uint8Array | null = null;
      for (const f of frames) out = r.push(f);
      expect(out && Buffer.compare(out, m)).toBe(0);
      expect(r.inFlight).toBe(0);
      expect(r.bufferedBytes).toBe(0);
    }
  });

  it('reassembles interleaved messages', () => {
    const r = new Reassembler();
    const a = message(3 * FRAME_CHUNK_BYTES, 1);
    const b = message(2 * FRAME_CHUNK_BYTES + 10, 2);
    const fa = [...frameMessage(1, a)];
    const fb = [...frameMessage(2, b)];
    expect(r.push(fa[0]!)).toBeNull();
    expect(r.push(fb[0]!)).toBeNull();
    expect(r.push(fa[1]!)).toBeNull();
    expect(r.push(fb[1]!)).toBeNull();
    expect(Buffer.compare(r.push(fb[2]!)!, b)).toBe(0);
    expect(Buffer.compare(r.push(fa[2]!)!, a)).toBe(0);
  });

  it('rejects duplicate, out-of-order, truncated and oversized frames with codes', () => {
    const m = message(3 * FRAME_CHUNK_BYTES);
    const f = [...frameMessage(5, m)];
    let r = new Reassembler();
    r.push(f[0]!);
    expect(codeOf(() => r.push(f[0]!))).toBe('duplicate');
    expect(codeOf(() => r.push(f[2]!))).toBe('out-of-order');
    // The gap dropped the message: its later frames are now duplicates of a dropped message.
    expect(codeOf(() => r.push(f[1]!))).toBe('duplicate');
    r = new Reassembler();
    expect(codeOf(() => r.push(f[1]!))).toBe('out-of-order');
    expect(codeOf(() => r.push(f[0]!.subarray(0, 100)))).toBe('truncated');
    expect(codeOf(() => r.push(new Uint8Array(4)))).toBe('truncated');
    expect(codeOf(() => r.push(new Uint8Array(MAX_FRAME_BYTES + 1)))).toBe('too-large');
    const bad = f[0]!.slice();
    bad[0] = 9;
    expect(codeOf(() => r.push(bad))).toBe('invalid-frame');
    r = new Reassembler({ maxMessageBytes: 2 * FRAME_CHUNK_BYTES });
    expect(codeOf(() => r.push(f[0]!))).toBe('too-large');
    // An old id after a newer one started is a replay.
    r = new Reassembler();
    r.push(encodeFrame(9, message(10), 0));
    expect(codeOf(() => r.push(encodeFrame(8, message(10), 0)))).toBe('duplicate');
  });

  it('caps partial messages in flight and their bytes', () => {
    const r = new Reassembler({ maxInFlight: 2, maxPartialBytes: 10 * FRAME_CHUNK_BYTES });
    const big = message(4 * FRAME_CHUNK_BYTES);
    r.push(encodeFrame(1, big, 0));
    r.push(encodeFrame(2, big, 0));
    expect(codeOf(() => r.push(encodeFrame(3, big, 0)))).toBe('too-many-in-flight');
    expect(r.inFlight).toBe(2);
    // Single-frame messages still pass while partials are capped.
    expect(r.push(encodeFrame(4, message(5), 0))).toEqual(message(5));
    // The budget is charged with the bytes received, chunk by chunk, not the announced size.
    const r2 = new Reassembler({ maxPartialBytes: 6 * FRAME_CHUNK_BYTES });
    r2.push(encodeFrame(1, big, 0));
    expect(r2.bufferedBytes).toBe(FRAME_CHUNK_BYTES);
    r2.push(encodeFrame(2, big, 0));
    r2.push(encodeFrame(2, big, 1));
    r2.push(encodeFrame(2, big, 2));
    expect(r2.bufferedBytes).toBe(4 * FRAME_CHUNK_BYTES);
    r2.push(encodeFrame(1, big, 1));
    r2.push(encodeFrame(1, big, 2));
    // The 7th chunk held would exceed 6: message 1 is dropped whole, message 2 survives.
    expect(codeOf(() => r2.push(encodeFrame(1, big, 3)))).toBe('too-large');
    expect(r2.inFlight).toBe(1);
    expect(r2.bufferedBytes).toBe(3 * FRAME_CHUNK_BYTES);
    expect(Buffer.compare(r2.push(encodeFrame(2, big, 3))!, big)).toBe(0);
    expect(r2.bufferedBytes).toBe(0);
  });

  it('bounds the memory of many links announcing huge messages with one shared budget', () => {
    // 16 links each announce two 32 MiB messages and send their first frames:
    // the old reassembler reserved 16 × 64 MiB = 1 GiB here.
    const budget = new ReassemblyBudget(40 * FRAME_CHUNK_BYTES);
    const links = Array.from({ length: 16 }, () => new Reassembler({ budget }));
    const huge = new Uint8Array(MAX_MESSAGE_BYTES);
    const header = (id: number, index: number) => encodeFrame(id, huge, index);
    let refused = 0;
    for (let round = 0; round < 4; round++) {
      for (const r of links) {
        for (const id of [1, 2]) {
          try {
            r.push(header(id, round));
          } catch (err) {
            expect((err as CodecError).code).toMatch(/too-large|out-of-order|duplicate/);
            refused++;
          }
        }
      }
      expect(budget.bufferedBytes).toBeLessThanOrEqual(budget.maxBytes);
    }
    expect(refused).toBeGreaterThan(0);
    const held = links.reduce((sum, r) => sum + r.bufferedBytes, 0);
    expect(held).toBe(budget.bufferedBytes);
    // Closing the links gives every byte back to the shared budget.
    for (const r of links) r.clear();
    expect(budget.bufferedBytes).toBe(0);
  });

  it('drops stale partial messages after the timeout', () => {
    let now = 0;
    const r = new Reassembler({ partialTimeoutMs: 1000, now: () => now });
    const m = message(3 * FRAME_CHUNK_BYTES);
    r.push(encodeFrame(1, m, 0));
    now = 500;
    r.push(encodeFrame(1, m, 1));
    now = 1400; // 900 ms since the last frame: still alive
    expect(r.sweep()).toBe(0);
    now = 2600;
    expect(r.sweep()).toBe(1);
    expect(r.inFlight).toBe(0);
    expect(codeOf(() => r.push(encodeFrame(1, m, 2)))).toBe('stale');
  });

  it('drops a partial message when its sender aborts it', () => {
    const r = new Reassembler();
    const m = message(3 * FRAME_CHUNK_BYTES);
    r.push(encodeFrame(1, m, 0));
    expect(r.push(encodeAbortFrame(1))).toBeNull();
    expect(r.inFlight).toBe(0);
    expect(encodeAbortFrame(1).length).toBe(FRAME_HEADER_BYTES);
  });
});
