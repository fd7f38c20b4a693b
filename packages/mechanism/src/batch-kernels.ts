/**
 * The unrolled inner products of `BatchNashSolver.step` (batch.ts): H_i d for
 * several lanes at once. Unrolled on purpose, for speed; each sum still runs
 * over k from 0 in its own accumulator, so the bits are those of a
 * single-trial solve. Do not "simplify" these loops without the sweep tests.
 */

/**
 * acc[a·n + j] = Σ_k H[hb + j·n + k] · dT[k·A + a] for the A lanes, each sum
 * in k order from 0 (the bits of `rowPayoffGradient`'s product). Lanes are
 * taken four, then two, then one at a time so every H load feeds several
 * independent multiply-adds.
 */
export function productLanes(
  H: Float64Array,
  hb: number,
  n: number,
  dT: Float64Array,
  A: number,
  acc: Float64Array,
): void {
  let a = 0;
  for (; a + 3 < A; a += 4) product4(H, hb, n, dT, A, a, acc);
  for (; a + 1 < A; a += 2) product2(H, hb, n, dT, A, a, acc);
  if (a < A) product1(H, hb, n, dT, A, a, acc);
}

function product4(
  H: Float64Array,
  hb: number,
  n: number,
  dT: Float64Array,
  A: number,
  a: number,
  acc: Float64Array,
) {
  const o0 = a * n;
  const o1 = o0 + n;
  const o2 = o1 + n;
  const o3 = o2 + n;
  let j = 0;
  for (; j + 1 < n; j += 2) {
    const h0 = hb + j * n;
    const h1 = h0 + n;
    let a00 = 0;
    let a01 = 0;
    let a02 = 0;
    let a03 = 0;
    let a10 = 0;
    let a11 = 0;
    let a12 = 0;
    let a13 = 0;
    for (let k = 0, dk = a; k < n; k++, dk += A) {
      const x0 = H[h0 + k]!;
      const x1 = H[h1 + k]!;
      const d0 = dT[dk]!;
      const d1 = dT[dk + 1]!;
      const d2 = dT[dk + 2]!;
      const d3 = dT[dk + 3]!;
      a00 += x0 * d0;
      a01 += x0 * d1;
      a02 += x0 * d2;
      a03 += x0 * d3;
      a10 += x1 * d0;
      a11 += x1 * d1;
      a12 += x1 * d2;
      a13 += x1 * d3;
    }
    acc[o0 + j] = a00;
    acc[o1 + j] = a01;
    acc[o2 + j] = a02;
    acc[o3 + j] = a03;
    acc[o0 + j + 1] = a10;
    acc[o1 + j + 1] = a11;
    acc[o2 + j + 1] = a12;
    acc[o3 + j + 1] = a13;
  }
  for (; j < n; j++) {
    const h0 = hb + j * n;
    let a00 = 0;
    let a01 = 0;
    let a02 = 0;
    let a03 = 0;
    for (let k = 0, dk = a; k < n; k++, dk += A) {
      const x0 = H[h0 + k]!;
      a00 += x0 * dT[dk]!;
      a01 += x0 * dT[dk + 1]!;
      a02 += x0 * dT[dk + 2]!;
      a03 += x0 * dT[dk + 3]!;
    }
    acc[o0 + j] = a00;
    acc[o1 + j] = a01;
    acc[o2 + j] = a02;
    acc[o3 + j] = a03;
  }
}

function product2(
  H: Float64Array,
  hb: number,
  n: number,
  dT: Float64Array,
  A: number,
  a: number,
  acc: Float64Array,
) {
  const o0 = a * n;
  const o1 = o0 + n;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const h0 = hb + j * n;
    const h1 = h0 + n;
    const h2 = h1 + n;
    const h3 = h2 + n;
    let a00 = 0;
    let a01 = 0;
    let a10 = 0;
    let a11 = 0;
    let a20 = 0;
    let a21 = 0;
    let a30 = 0;
    let a31 = 0;
    for (let k = 0, dk = a; k < n; k++, dk += A) {
      const d0 = dT[dk]!;
      const d1 = dT[dk + 1]!;
      const x0 = H[h0 + k]!;
      const x1 = H[h1 + k]!;
      const x2 = H[h2 + k]!;
      const x3 = H[h3 + k]!;
      a00 += x0 * d0;
      a01 += x0 * d1;
      a10 += x1 * d0;
      a11 += x1 * d1;
      a20 += x2 * d0;
      a21 += x2 * d1;
      a30 += x3 * d0;
      a31 += x3 * d1;
    }
    acc[o0 + j] = a00;
    acc[o1 + j] = a01;
    acc[o0 + j + 1] = a10;
    acc[o1 + j + 1] = a11;
    acc[o0 + j + 2] = a20;
    acc[o1 + j + 2] = a21;
    acc[o0 + j + 3] = a30;
    acc[o1 + j + 3] = a31;
  }
  for (; j < n; j++) {
    const h0 = hb + j * n;
    let a00 = 0;
    let a01 = 0;
    for (let k = 0, dk = a; k < n; k++, dk += A) {
      const x0 = H[h0 + k]!;
      a00 += x0 * dT[dk]!;
      a01 += x0 * dT[dk + 1]!;
    }
    acc[o0 + j] = a00;
    acc[o1 + j] = a01;
  }
}

function product1(
  H: Float64Array,
  hb: number,
  n: number,
  dT: Float64Array,
  A: number,
  a: number,
  acc: Float64Array,
) {
  const o0 = a * n;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const h0 = hb + j * n;
    const h1 = h0 + n;
    const h2 = h1 + n;
    const h3 = h2 + n;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let k = 0, dk = a; k < n; k++, dk += A) {
      const d = dT[dk]!;
      a0 += H[h0 + k]! * d;
      a1 += H[h1 + k]! * d;
      a2 += H[h2 + k]! * d;
      a3 += H[h3 + k]! * d;
    }
    acc[o0 + j] = a0;
    acc[o0 + j + 1] = a1;
    acc[o0 + j + 2] = a2;
    acc[o0 + j + 3] = a3;
  }
  for (; j < n; j++) {
    const h0 = hb + j * n;
    let a0 = 0;
    for (let k = 0, dk = a; k < n; k++, dk += A) a0 += H[h0 + k]! * dT[dk]!;
    acc[o0 + j] = a0;
  }
}
