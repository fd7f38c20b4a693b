import { PRODUCT_ROW_MULTIPLE, productModule, storeTransposed, WasmProduct } from './wasm-product.js';

/**
 * The O(n³) product of `BatchNashSolver.step` (batch.ts), acc = H_i d for
 * every peer row i and every active lane, behind one interface with two
 * implementations: the WebAssembly SIMD kernel (wasm-product.ts, the default)
 * and plain JS (where WebAssembly SIMD is missing, and as the side-by-side
 * reference of the benchmark). Both store H_i transposed and padded
 * (T_i[k][j] = H_i[j][k], rows of width np) and compute each
 *   acc[j] = Σ_k H_i[j][k] · d[k]
 * in k order from 0 in its own accumulator: the bits of the single-trial
 * solver's `rowPayoffGradient`, so the kernel never changes a result.
 */
export interface ProductKernel {
  readonly n: number;
  /** Padded row width of d and acc. */
  readonly np: number;
  /** d[(i·A + a)·np + k]: lane a's mask difference for peer row i (A = lanes of the step). */
  readonly d: Float64Array;
  /** acc[(i·A + a)·np + j] = (H_i d)_j, written by `run`. */
  readonly acc: Float64Array;
  /** Stores the world's Hessians (n matrices, row-major, back to back). */
  load(hessians: Float64Array): void;
  /** Computes acc for every peer row and the first `lanes` lanes. */
  run(lanes: number): void;
}

export type KernelKind = 'wasm' | 'js';

/** The WebAssembly kernel where it is available (asked for or not), else JS. */
export function createProductKernel(n: number, maxLanes: number, kind: KernelKind = 'wasm'): ProductKernel {
  const module = kind === 'wasm' ? productModule() : null;
  return module ? new WasmProduct(module, n, maxLanes) : new JsProduct(n, maxLanes);
}

/**
 * The same product in JS: four j's at a time so each d_k load feeds four
 * independent sums (unrolled on purpose, for speed; each sum is still in k
 * order from 0).
 */
export class JsProduct implements ProductKernel {
  readonly n: number;
  readonly np: number;
  readonly d: Float64Array;
  readonly acc: Float64Array;
  private readonly t: Float64Array;

  constructor(n: number, maxLanes: number) {
    this.n = n;
    this.np = Math.ceil(n / PRODUCT_ROW_MULTIPLE) * PRODUCT_ROW_MULTIPLE;
    this.t = new Float64Array(n * n * this.np);
    this.d = new Float64Array(n * maxLanes * this.np);
    this.acc = new Float64Array(n * maxLanes * this.np);
  }

  load(hessians: Float64Array): void {
    storeTransposed(hessians, this.n, this.np, this.t);
  }

  run(lanes: number): void {
    const { n, np, t, d, acc } = this;
    for (let i = 0; i < n; i++) {
      const tb = i * n * np;
      for (let a = 0; a < lanes; a++) {
        const vb = (i * lanes + a) * np;
        // np is a multiple of 16, so j + 3 < np always holds inside the row.
        for (let j = 0; j < n; j += 4) {
          let a0 = 0;
          let a1 = 0;
          let a2 = 0;
          let a3 = 0;
          for (let k = 0, tk = tb + j; k < n; k++, tk += np) {
            const dk = d[vb + k]!;
            a0 += t[tk]! * dk;
            a1 += t[tk + 1]! * dk;
            a2 += t[tk + 2]! * dk;
            a3 += t[tk + 3]! * dk;
          }
          acc[vb + j] = a0;
          acc[vb + j + 1] = a1;
          acc[vb + j + 2] = a2;
          acc[vb + j + 3] = a3;
        }
      }
    }
  }
}
