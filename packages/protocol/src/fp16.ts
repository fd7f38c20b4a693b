/**
 * IEEE 754 binary16 conversion. Float32 → fp16 rounds to nearest, ties to
 * even, including into the subnormal range, so the relative error in the
 * normal range (|x| ≥ 2^-14) is at most 2^-11 ≈ 4.9e-4. Decoding uses a
 * 65,536-entry table (256 KiB, built on first use) because it is exact and
 * several times faster than bit twiddling per element.
 */

/** Largest finite fp16 value. */
export const FP16_MAX = 65504;
/** Smallest positive normal fp16 value, 2^-14. */
export const FP16_MIN_NORMAL = 2 ** -14;
export const FP16_INFINITY_BITS = 0x7c00;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Bits of the fp16 nearest to `value` (ties to even). Overflow gives ±Inf bits
 * (0x7c00 | sign), NaN gives 0x7e00: callers that must not send them check.
 */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  return f32BitsToF16Bits(u32[0]!);
}

function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00;
  const e = exp - 112; // rebias 127 → 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal fp16 (or zero): value = m·2^(exp-150), fp16 mantissa = value·2^24.
    if (e < -10) return sign; // below half the smallest subnormal: rounds to ±0
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h; // h may carry into 0x400, the smallest normal: still correct
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry may reach 0x7c00 = Inf: correct overflow
  return sign | h;
}

let table: Float32Array | undefined;
function decodeTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24;
    else if (exp === 31) v = mant === 0 ? Number.POSITIVE_INFINITY : Number.NaN;
    else v = (1 + mant / 1024) * 2 ** (exp - 15);
    table[h] = sign * v;
  }
  return table;
}

export function float16BitsToFloat32(bits: number): number {
  return decodeTable()[bits & 0xffff]!;
}

/**
 * Converts a whole array. Returns the index of the first value that is NaN,
 * infinite or overflows fp16, or -1 when all converted.
 */
export function encodeFloat16Array(src: Float32Array, dst: Uint16Array): number {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const h = f32BitsToF16Bits(bits[i]!);
    if ((h & 0x7c00) === 0x7c00) return i;
    dst[i] = h;
  }
  return -1;
}

/** Converts a whole array. Returns the index of the first NaN/Inf, or -1. */
export function decodeFloat16Array(src: Uint16Array, dst: Float32Array): number {
  const t = decodeTable();
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    if ((h & 0x7c00) === 0x7c00) return i;
    dst[i] = t[h]!;
  }
  return -1;
}
