/**
 * The O(n³) product of the batched Nash step, acc = H_i d for every row i
 * and every lane, as a WebAssembly SIMD kernel (f64x2; Node 20 runs it).
 *
 * The module is assembled here from its instructions (no toolchain, nothing
 * fetched): `productModuleBytes()` returns the bytes. H_i is stored
 * transposed, T_i[k][j] = H_i[j][k], each row padded with zeros to a width
 * `np` (a multiple of 16), so the kernel walks k and adds T_i[k][j..j+1]·d_k
 * into two j's at once:
 *   acc[j] = Σ_k H_i[j][k] · d[k], every sum over k from 0 into its own
 * accumulator, one multiply then one add (WebAssembly never fuses them).
 * These are the operations of `rowPayoffGradient` in the same order, so the
 * bits are those of the single-trial solver: the kernel is a speed-up only.
 *
 * Two lanes share each load of T (eight accumulators, 4 × 2 j's); an odd
 * last lane runs alone over 16 j's (eight accumulators again), so one lane
 * left in the tail of a sweep still keeps eight sums in flight.
 */

import type { ProductKernel } from './batch-kernels.js';

/** Zero padding of each row of T, d and acc to this many doubles. */
export const PRODUCT_ROW_MULTIPLE = 16;

const I32 = 0x7f;
const V128 = 0x7b;

// Opcodes used: WebAssembly core 2.0, and after the SIMD prefix 0xfd the
// fixed-width SIMD ones (v128*, f64x2*, encoded as LEB128 after the prefix).
const op = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32Shl: 0x74,
  simdPrefix: 0xfd,
  v128Load: 0x00,
  v128Load64Splat: 0x0a,
  v128Store: 0x0b,
  v128Const: 0x0c,
  f64x2Add: 0xf0,
  f64x2Mul: 0xf2,
} as const;

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

// Parameters and locals of `product(hPtr, dPtr, accPtr, n, np, lanes)`; all addresses in bytes.
const P = { h: 0, d: 1, acc: 2, n: 3, np: 4, lanes: 5 } as const;
const L = { rowB: 6, matB: 7, i: 8, a: 9, jb: 10, k: 11, hp: 12, dp0: 13, dp1: 14, hI: 15, vI: 16, out: 17 };
const I32_LOCALS = 12;
const ACC0 = 18; // eight v128 accumulators, then e0, e1, x
const E0 = ACC0 + 8;
const E1 = E0 + 1;
const X = E1 + 1;
const V128_LOCALS = 11;

/** The instruction stream of the kernel's body. */
function productBody(): number[] {
  const c: number[] = [];
  const get = (l: number) => c.push(op.localGet, l);
  const set = (l: number) => c.push(op.localSet, ...uleb(l));
  const i32 = (v: number) => c.push(op.i32Const, ...sleb(v));
  const addI = () => c.push(op.i32Add);
  const memarg = (alignLog2: number, offset: number) => [alignLog2, ...uleb(offset)];
  const vload = (offset: number) => c.push(op.simdPrefix, op.v128Load, ...memarg(4, offset));
  const vstore = (offset: number) => c.push(op.simdPrefix, ...uleb(op.v128Store), ...memarg(4, offset));
  const splat = () => c.push(op.simdPrefix, op.v128Load64Splat, ...memarg(3, 0));
  const fmadd = (acc: number, e: number) => {
    // acc = acc + x·e (two ops, never fused)
    get(acc);
    get(X);
    get(e);
    c.push(op.simdPrefix, ...uleb(op.f64x2Mul), op.simdPrefix, ...uleb(op.f64x2Add));
    set(acc);
  };
  const zeroAccs = () => {
    for (let r = 0; r < 8; r++) {
      c.push(op.simdPrefix, op.v128Const, ...new Array(16).fill(0));
      set(ACC0 + r);
    }
  };
  const inc = (l: number, by: number | (() => void)) => {
    get(l);
    if (typeof by === 'number') i32(by);
    else by();
    addI();
    set(l);
  };
  /** `block loop (exit if l >= limit) …body… br loop end end` */
  const forLoop = (l: number, limit: () => void, body: () => void) => {
    c.push(op.block, 0x40, op.loop, 0x40);
    get(l);
    limit();
    c.push(op.i32GeU, op.brIf, 1);
    body();
    c.push(op.br, 0, op.end, op.end);
  };
  /** k = n; loop { body; k -= 1; br_if k != 0 } (n ≥ 2 is checked in JS). */
  const kLoop = (body: () => void) => {
    get(P.n);
    set(L.k);
    c.push(op.loop, 0x40);
    body();
    get(L.k);
    i32(1);
    c.push(op.i32Sub);
    c.push(op.localTee, L.k);
    c.push(op.brIf, 0, op.end);
  };

  /** Pushes base + vI + a·rowB: where lane a of the current row i starts in d or acc. */
  const laneStart = (base: number) => {
    get(base);
    get(L.vI);
    addI();
    get(L.a);
    get(L.rowB);
    c.push(op.i32Mul);
    addI();
  };
  /**
   * Lanes a .. a + lanes − 1 of row i over the whole row, 8 / lanes vectors
   * (16 / lanes j's) at a time: eight accumulators either way.
   */
  const laneBlock = (lanes: 1 | 2) => {
    const V = 8 / lanes;
    const dps = [L.dp0, L.dp1].slice(0, lanes);
    const es = [E0, E1].slice(0, lanes);
    i32(0);
    set(L.jb);
    forLoop(
      L.jb,
      () => get(L.rowB),
      () => {
        zeroAccs();
        get(L.hI);
        get(L.jb);
        addI();
        set(L.hp);
        laneStart(P.d);
        set(L.dp0);
        if (lanes === 2) {
          get(L.dp0);
          get(L.rowB);
          addI();
          set(L.dp1);
        }
        kLoop(() => {
          dps.forEach((dp, q) => {
            get(dp);
            splat();
            set(es[q]!);
          });
          for (let v = 0; v < V; v++) {
            get(L.hp);
            vload(16 * v);
            set(X);
            for (let q = 0; q < lanes; q++) fmadd(ACC0 + q * V + v, es[q]!);
          }
          inc(L.hp, () => get(L.rowB));
          for (const dp of dps) inc(dp, 8);
        });
        laneStart(P.acc);
        get(L.jb);
        addI();
        set(L.out);
        for (let q = 0; q < lanes; q++) {
          if (q > 0) inc(L.out, () => get(L.rowB));
          for (let v = 0; v < V; v++) {
            get(L.out);
            get(ACC0 + q * V + v);
            vstore(16 * v);
          }
        }
        inc(L.jb, 16 * V);
      },
    );
  };

  // rowB = np·8, matB = n·rowB
  get(P.np);
  i32(3);
  c.push(op.i32Shl);
  set(L.rowB);
  get(P.n);
  get(L.rowB);
  c.push(op.i32Mul);
  set(L.matB);
  i32(0);
  set(L.i);
  forLoop(
    L.i,
    () => get(P.n),
    () => {
      // hI = hPtr + i·matB; vI = i·lanes·rowB
      get(P.h);
      get(L.i);
      get(L.matB);
      c.push(op.i32Mul);
      addI();
      set(L.hI);
      get(L.i);
      get(P.lanes);
      c.push(op.i32Mul);
      get(L.rowB);
      c.push(op.i32Mul);
      set(L.vI);
      i32(0);
      set(L.a);
      // Pairs of lanes: while a + 1 < lanes, i.e. exit when a + 2 > lanes ⇔ a + 1 >= lanes.
      c.push(op.block, 0x40, op.loop, 0x40);
      get(L.a);
      i32(1);
      addI();
      get(P.lanes);
      c.push(op.i32GeU, op.brIf, 1);
      laneBlock(2);
      inc(L.a, 2);
      c.push(op.br, 0, op.end, op.end);
      // The odd last lane, alone over 16 j's at a time.
      c.push(op.block, 0x40);
      get(L.a);
      get(P.lanes);
      c.push(op.i32GeU, op.brIf, 0);
      laneBlock(1);
      c.push(op.end);
      inc(L.i, 1);
    },
  );
  c.push(op.end);
  return c;
}

/** The whole module: one memory (exported) and `product`. */
export function productModuleBytes(): Uint8Array<ArrayBuffer> {
  const fnType = [0x60, ...vec(new Array(6).fill([I32])), 0x00];
  const body = [
    ...vec([
      [...uleb(I32_LOCALS), I32],
      [...uleb(V128_LOCALS), V128],
    ]),
    ...productBody(),
  ];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([fnType])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, 1]])), // memory, min 1 page; grown from JS
    ...section(
      7,
      vec([
        [...name('product'), 0x00, 0],
        [...name('memory'), 0x02, 0],
      ]),
    ),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

/** Transposes n row-major n×n matrices into rows of width np (zero padded): T_i[k][j] = H_i[j][k]. */
export function storeTransposed(hessians: Float64Array, n: number, np: number, t: Float64Array): void {
  const nn = n * n;
  t.fill(0);
  for (let i = 0; i < n; i++) {
    const tb = i * n * np;
    const hb = i * nn;
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) t[tb + k * np + j] = hessians[hb + j * n + k]!;
  }
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is not available. */
export function productModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = productModuleBytes();
    compiled =
      typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

const PAGE_BYTES = 65536;

/**
 * One instance of the kernel with its memory laid out for an n and a number
 * of lanes: T (n matrices of n × np), then d and acc (n·lanes rows of np
 * each, row (i·lanes + a) for lane a of peer row i).
 */
export class WasmProduct implements ProductKernel {
  readonly n: number;
  readonly np: number;
  readonly maxLanes: number;
  /** d[(i·A + a)·np + k] for the A active lanes of a step. */
  readonly d: Float64Array;
  /** acc[(i·A + a)·np + j], written by `run`. */
  readonly acc: Float64Array;
  private readonly t: Float64Array;
  private readonly tPtr: number;
  private readonly dPtr: number;
  private readonly accPtr: number;
  private readonly product: (h: number, d: number, acc: number, n: number, np: number, lanes: number) => void;

  constructor(module: WebAssembly.Module, n: number, maxLanes: number) {
    this.n = n;
    this.maxLanes = maxLanes;
    const np = Math.ceil(n / PRODUCT_ROW_MULTIPLE) * PRODUCT_ROW_MULTIPLE;
    this.np = np;
    const instance = new WebAssembly.Instance(module);
    const memory = instance.exports.memory as WebAssembly.Memory;
    const tDoubles = n * n * np;
    const vDoubles = n * maxLanes * np;
    const bytes = (tDoubles + 2 * vDoubles) * 8;
    const pages = Math.ceil(bytes / PAGE_BYTES);
    if (pages > memory.buffer.byteLength / PAGE_BYTES)
      memory.grow(pages - memory.buffer.byteLength / PAGE_BYTES);
    this.tPtr = 0;
    this.dPtr = tDoubles * 8;
    this.accPtr = this.dPtr + vDoubles * 8;
    this.t = new Float64Array(memory.buffer, this.tPtr, tDoubles);
    this.d = new Float64Array(memory.buffer, this.dPtr, vDoubles);
    this.acc = new Float64Array(memory.buffer, this.accPtr, vDoubles);
    this.product = instance.exports.product as WasmProduct['product'];
  }

  /** Stores H (n matrices, row-major, back to back) transposed and padded. */
  load(hessians: Float64Array): void {
    storeTransposed(hessians, this.n, this.np, this.t);
  }

  /** acc = H_i d for every peer row i and each of the first `lanes` lanes. */
  run(lanes: number): void {
    this.product(this.tPtr, this.dPtr, this.accPtr, this.n, this.np, lanes);
  }
}
