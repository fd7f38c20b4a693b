import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeFloat16Array,
  encodeFloat16Array,
  FP16_MAX,
  FP16_MIN_NORMAL,
  float16BitsToFloat32,
  float32ToFloat16Bits,
} from '../src/fp16.js';

// Independent reference: every finite non-negative fp16 value, sorted, and a
// binary search for the nearest with ties to the even bit pattern. Midpoints
// of two fp16 values are exact in float64, so the comparison is exact.
const positives: number[] = [];
for (let h = 0; h < 0x7c00; h++) positives.push(float16BitsToFloat32(h));

function referenceBits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // 65520 is the midpoint between FP16_MAX and 2^16: ties to even = Inf
  let lo = 0;
  let hi = positives.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (positives[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const below = positives[lo]!;
  const above = positives[hi]!;
  if (a <= below) return sign | lo;
  if (a >= above) return sign | hi;
  const midpoint = (below + above) / 2;
  if (a < midpoint) return sign | lo;
  if (a > midpoint) return sign | hi;
  return sign | (lo % 2 === 0 ? lo : hi);
}

describe('fp16', () => {
  it('round-trips every finite fp16 value exactly', () => {
    const bad: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      if (float32ToFloat16Bits(float16BitsToFloat32(h)) !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it('rounds every midpoint between neighbouring fp16 values to the even one', () => {
    const bad: number[] = [];
    for (let h = 0; h < 0x7bff; h++) {
      const a = float16BitsToFloat32(h);
      const b = float16BitsToFloat32(h + 1);
      const mid = Math.fround((a + b) / 2);
      // The midpoint is exact in float32 for every pair here (one more mantissa bit).
      if (mid !== (a + b) / 2) bad.push(-h);
      const even = h % 2 === 0 ? h : h + 1;
      // Just either side of the midpoint goes to the nearer value.
      const belowMid = Math.fround(mid - (b - a) / 8);
      const aboveMid = Math.fround(mid + (b - a) / 8);
      if (
        float32ToFloat16Bits(mid) !== even ||
        float32ToFloat16Bits(-mid) !== (0x8000 | even) ||
        float32ToFloat16Bits(belowMid) !== h ||
        float32ToFloat16Bits(aboveMid) !== h + 1
      ) {
        bad.push(h);
      }
    }
    expect(bad).toEqual([]);
  }, 30_000);

  it('agrees with the reference on 120,000 random float32 values across the whole range', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true, min: -70000, max: 70000 }), (x) => {
        return float32ToFloat16Bits(x) === referenceBits(x);
      }),
      { numRuns: 60_000 },
    );
    fc.assert(
      fc.property(
        fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e-3), max: Math.fround(1e-3) }),
        (x) => {
          return float32ToFloat16Bits(x) === referenceBits(x);
        },
      ),
      { numRuns: 60_000 },
    );
  });

  it('has relative error ≤ 1e-3 (in fact ≤ 2^-11) in the normal range', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, min: FP16_MIN_NORMAL, max: FP16_MAX }), fc.boolean(), (x, neg) => {
        const v = neg ? -x : x;
        const back = float16BitsToFloat32(float32ToFloat16Bits(v));
        return Math.abs(back - v) / Math.abs(v) <= 2 ** -11;
      }),
      { numRuns: 50_000 },
    );
  });

  it('overflows to Inf bits exactly at 65520 and flags it in arrays', () => {
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65519.99)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-1e9)).toBe(0xfc00);
    const dst = new Uint16Array(3);
    expect(encodeFloat16Array(new Float32Array([1, 70000, 2]), dst)).toBe(1);
    expect(encodeFloat16Array(new Float32Array([1, Number.NaN]), dst)).toBe(1);
    expect(encodeFloat16Array(new Float32Array([1, 0.5, -2]), dst)).toBe(-1);
    expect(decodeFloat16Array(new Uint16Array([0x3c00, 0x7c00]), new Float32Array(2))).toBe(1);
    expect(decodeFloat16Array(new Uint16Array([0x3c00, 0xfe01]), new Float32Array(2))).toBe(1);
  });

  it('handles subnormals and signed zero', () => {
    expect(float32ToFloat16Bits(2 ** -24)).toBe(1);
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0); // tie → even (0)
    expect(float32ToFloat16Bits(Math.fround(2 ** -25 * 1.0001))).toBe(1);
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(2); // tie between 1 and 2 → 2
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(1e-30)).toBe(0);
  });
});
