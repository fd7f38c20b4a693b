import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createProductKernel, JsProduct } from '../src/batch-kernels.js';
import { productModule, productModuleBytes, WasmProduct } from '../src/wasm-product.js';

/** H_i d in the order of the single-trial solver (`rowPayoffGradient`): each sum over k from 0. */
function reference(H: Float64Array, n: number, d: Float64Array, i: number): Float64Array {
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += H[i * n * n + j * n + k]! * d[k]!;
    out[j] = s;
  }
  return out;
}

describe('the H_i d product kernels', () => {
  it('assembles a module that this Node validates and compiles (WebAssembly SIMD)', () => {
    expect(WebAssembly.validate(productModuleBytes())).toBe(true);
    expect(productModule()).not.toBeNull();
    expect(createProductKernel(4, 1)).toBeInstanceOf(WasmProduct);
    expect(createProductKernel(4, 1, 'js')).toBeInstanceOf(JsProduct);
  });

  it('wasm and JS give the bits of the single-trial order, for any n, lane count and (asymmetric) H', () => {
    const module = productModule();
    if (!module) throw new Error('WebAssembly SIMD missing');
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 35 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (n, lanes, seed) => {
          let x = seed;
          const rand = () => {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            return x / 2 ** 32 - 0.5;
          };
          const H = Float64Array.from({ length: n * n * n }, rand);
          const kernels = [new WasmProduct(module, n, 5), new JsProduct(n, 5)];
          const d = Float64Array.from({ length: n * lanes * n }, rand);
          for (const k of kernels) {
            k.load(H);
            // stale values in d's padding and in lanes beyond `lanes` must not leak in
            k.d.fill(Number.NaN);
            for (let r = 0; r < n * lanes; r++) k.d.set(d.subarray(r * n, r * n + n), r * k.np);
            k.run(lanes);
          }
          for (let i = 0; i < n; i++)
            for (let a = 0; a < lanes; a++) {
              const r = i * lanes + a;
              const want = reference(H, n, d.subarray(r * n, r * n + n), i);
              for (const k of kernels) {
                const got = k.acc.slice(r * k.np, r * k.np + n);
                expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
              }
            }
        },
      ),
      { numRuns: 60 },
    );
  });
});
