/**
 * The README's "Specification" section, implemented a second time from the
 * README alone: node:crypto's sha256 and DataView, nothing from ../src. It
 * recomputes every genesis hash, tx hash, tx root, state root and block hash
 * of the fixture chain (adaptive τ, activity cutoff) and of a chain with
 * weight-0 entries, so a change to the ledger that the README does not
 * describe fails here. Each "misreading" below is one of the gaps an outside
 * verifier hit; each must give another root, or the README would not need to
 * say it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// Only to *produce* a chain with weight-0 entries; the verifier below never uses ../src.
import { createSetWeightsTx } from '../src/index.js';
import { harness, SCALE } from './helpers.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json | undefined };
type Genesis = {
  producer: string;
  timestampMs: number;
  registrationStake: number;
  faucetRegistrations: number;
  activityCutoffBlocks?: number;
  tau:
    | { mode: 'fixed'; value: number }
    | { mode: 'adaptive'; initial: number; target: number; gain: number; min: number; max: number };
};
type Tx =
  | { type: 'register'; genesisHash: string; publicKey: string; signature: string }
  | {
      type: 'set-weights';
      genesisHash: string;
      uid: number;
      nonce: number;
      weights: Array<[number, number]>;
      signature: string;
    };
type Block = {
  height: number;
  parentHash: string;
  timestampMs: number;
  txRoot: string;
  stateRoot: string;
  producer: string;
  txs: Tx[];
  signature: string;
};

/** Ways to read the README wrongly; the verifier must disagree with the chain under each. */
type Misreading =
  | 'genesis-plain-json'
  | 'keep-zero-weights'
  | 'divide-by-n'
  | 'tau-times-rank-over-norm'
  | 'this-blocks-tau-in-root'
  | 'little-endian-floats';

// ---- encoding ---------------------------------------------------------------

class Bytes {
  private readonly parts: Uint8Array[] = [];
  constructor(private readonly littleEndianFloats = false) {}
  private fixed(n: number, write: (v: DataView) => void): this {
    const b = new Uint8Array(n);
    write(new DataView(b.buffer));
    this.parts.push(b);
    return this;
  }
  u8(x: number) {
    return this.fixed(1, (v) => v.setUint8(0, x));
  }
  u16(x: number) {
    return this.fixed(2, (v) => v.setUint16(0, x, false));
  }
  u32(x: number) {
    return this.fixed(4, (v) => v.setUint32(0, x, false));
  }
  u64(x: number) {
    return this.u32(Math.floor(x / 2 ** 32)).u32(x % 2 ** 32);
  }
  f64(x: number) {
    return this.fixed(8, (v) => v.setFloat64(0, x, this.littleEndianFloats));
  }
  raw(b: Uint8Array) {
    this.parts.push(b);
    return this;
  }
  hex32(h: string) {
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    return this.raw(Buffer.from(h, 'hex'));
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    return this.u32(b.length).raw(b);
  }
  sha256(): string {
    return createHash('sha256').update(Buffer.concat(this.parts)).digest('hex');
  }
}

function canonicalJson(value: Json | undefined): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function genesisHashOf(genesis: Genesis, misreading?: Misreading): string {
  const text = canonicalJson(genesis as unknown as Json);
  if (misreading === 'genesis-plain-json') return createHash('sha256').update(text).digest('hex');
  return new Bytes().str('peerbench/ledger/genesis/v1').str(text).sha256();
}

function txHash(tx: Tx): string {
  const b = new Bytes().str('peerbench/ledger/tx/v2').hex32(tx.genesisHash);
  if (tx.type === 'register') b.u8(1).hex32(tx.publicKey);
  else {
    b.u8(2).u32(tx.uid).u64(tx.nonce).u16(tx.weights.length);
    for (const [u, w] of tx.weights) b.u32(u).u32(w);
  }
  return b.raw(Buffer.from(tx.signature, 'hex')).sha256();
}

// ---- the state transition ---------------------------------------------------

interface Uid {
  key: string;
  row: Array<[number, number]>;
  nonce: number;
  lastSet: number;
  S: number;
  R: number;
}

/** Replays `blocks`; returns per block [computed state root, computed block hash]. */
function verify(genesis: Genesis, blocks: Block[], misreading?: Misreading): Array<[string, string]> {
  const gHash = genesisHashOf(genesis, misreading);
  const cutoff = genesis.activityCutoffBlocks ?? 50;
  const t = genesis.tau;
  let tau = t.mode === 'fixed' ? t.value : Math.min(t.max, Math.max(t.min, t.initial));
  const uids: Uid[] = [];
  let parent = gHash;
  const out: Array<[string, string]> = [];
  for (const block of blocks) {
    const h = block.height;
    for (const tx of block.txs) {
      if (tx.type === 'register') {
        const uid = uids.length;
        const S = uid < genesis.faucetRegistrations ? genesis.registrationStake : 0;
        uids.push({ key: tx.publicKey, row: [[uid, 1e9]], nonce: 0, lastSet: 0, S, R: 0 });
      } else {
        const u = uids[tx.uid]!;
        u.row = misreading === 'keep-zero-weights' ? tx.weights : tx.weights.filter(([, w]) => w !== 0);
        u.nonce = tx.nonce;
        u.lastSet = h;
      }
    }
    const n = uids.length;
    const active = uids.map((u) => u.lastSet > 0 && u.lastSet <= h && h - u.lastSet <= cutoff);
    const R = new Array<number>(n).fill(0);
    uids.forEach((u, i) => {
      if (active[i]) for (const [j, w] of u.row) R[j] = R[j]! + u.S * (w / 1e9);
    });
    const inv = 1 / n;
    for (let j = 0; j < n; j++) R[j] = misreading === 'divide-by-n' ? R[j]! / n : R[j]! * inv;
    let sq = 0;
    for (let j = 0; j < n; j++) sq = sq + R[j]! * R[j]!;
    const norm = Math.sqrt(sq);
    if (norm !== 0) {
      const k = tau / norm;
      uids.forEach((u, j) => {
        u.S = misreading === 'tau-times-rank-over-norm' ? u.S + (tau * R[j]!) / norm : u.S + k * R[j]!;
      });
    }
    uids.forEach((u, j) => {
      u.R = R[j]!;
    });
    let diag = 0;
    let total = 0;
    uids.forEach((u, i) => {
      if (!active[i]) return;
      for (const [j, w] of u.row) {
        total += w;
        if (j === i) diag += w;
      }
    });
    const sparsity = total === 0 ? 0 : diag / total;
    const tauThisBlock = tau;
    if (t.mode === 'fixed') tau = t.value;
    else if (active.some((a) => a))
      tau = Math.min(t.max, Math.max(t.min, tau + t.gain * (t.target - sparsity)));
    const state = new Bytes(misreading === 'little-endian-floats')
      .str('peerbench/ledger/state/v2')
      .str(gHash)
      .u64(h)
      .f64(misreading === 'this-blocks-tau-in-root' ? tauThisBlock : tau)
      .f64(sparsity)
      .u32(n);
    for (const u of uids) {
      state.hex32(u.key).f64(u.S).f64(u.R).u64(u.nonce).u64(u.lastSet).u16(u.row.length);
      for (const [j, w] of u.row) state.u32(j).u32(w);
    }
    const stateRoot = state.sha256();
    const txRoot = new Bytes().str('peerbench/ledger/txroot/v1').u32(block.txs.length);
    for (const tx of block.txs) txRoot.hex32(txHash(tx));
    const header = new Bytes()
      .str('peerbench/ledger/block/v1')
      .u64(h)
      .hex32(parent)
      .u64(block.timestampMs)
      .hex32(txRoot.sha256())
      .hex32(stateRoot)
      .hex32(block.producer)
      .u32(block.txs.length);
    parent = header.sha256();
    out.push([stateRoot, parent]);
  }
  return out;
}

/** Block hashes as the chain links them (each block's parentHash is the previous block's hash). */
function linkedHashes(blocks: Block[], headHash: string): string[] {
  return blocks.map((_, k) => (k + 1 < blocks.length ? blocks[k + 1]!.parentHash : headHash));
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/chain.json', import.meta.url), 'utf8')) as {
  genesis: Genesis;
  blocks: Block[];
  expected: { stateRoot: string; headHash: string };
};

const MISREADINGS: Misreading[] = [
  'genesis-plain-json',
  'divide-by-n',
  'tau-times-rank-over-norm',
  'this-blocks-tau-in-root',
  'little-endian-floats',
];

describe('the README specification, implemented independently', () => {
  it('recomputes the fixture chain (adaptive τ, activity cutoff) bit for bit', () => {
    const { genesis, blocks, expected } = fixture;
    expect(genesis.tau.mode).toBe('adaptive');
    expect(blocks[0]!.parentHash).toBe(genesisHashOf(genesis));
    const computed = verify(genesis, blocks);
    expect(computed.map(([root]) => root)).toEqual(blocks.map((b) => b.stateRoot));
    expect(computed.map(([, hash]) => hash)).toEqual(linkedHashes(blocks, expected.headHash));
    expect(computed.at(-1)?.[0]).toBe(expected.stateRoot);
  });

  it('every misreading the README rules out gives another root on the fixture', () => {
    const { genesis, blocks } = fixture;
    for (const misreading of MISREADINGS) {
      const roots = verify(genesis, blocks, misreading).map(([root]) => root);
      expect(roots, misreading).not.toEqual(blocks.map((b) => b.stateRoot));
    }
  });

  it('a weight-0 entry is signed as sent but dropped from the stored row', async () => {
    const { producer, keys, genesisHash } = await harness(3);
    const [a, b] = keys as [(typeof keys)[0], (typeof keys)[0]];
    const rows: Array<Array<[number, number]>> = [
      [
        [0, 0.9 * SCALE],
        [1, 0],
        [2, 0.1 * SCALE],
      ],
      [
        [0, 0],
        [1, SCALE],
      ],
    ];
    expect((await producer.submitTx(await createSetWeightsTx(a, 0, 1, rows[0]!, genesisHash))).ok).toBe(true);
    expect((await producer.submitTx(await createSetWeightsTx(b, 1, 1, rows[1]!, genesisHash))).ok).toBe(true);
    await producer.produceBlock();
    await producer.produceBlock();
    const blocks = (await producer.blocksFrom(1, 10)) as unknown as Block[];
    expect(blocks.map((bl) => bl.height)).toEqual([1, 2, 3]);
    // The zero entries are on the chain as signed…
    expect(blocks[1]!.txs.map((tx) => (tx.type === 'set-weights' ? tx.weights : []))).toEqual(rows);
    // …and gone from the state.
    expect(producer.state().weights.slice(0, 2)).toEqual([
      [
        [0, 0.9 * SCALE],
        [2, 0.1 * SCALE],
      ],
      [[1, SCALE]],
    ]);
    const genesis = producer.genesis as unknown as Genesis;
    const computed = verify(genesis, blocks);
    expect(computed.map(([root]) => root)).toEqual(blocks.map((bl) => bl.stateRoot));
    expect(computed.at(-1)?.[1]).toBe(producer.state().headHash);
    const kept = verify(genesis, blocks, 'keep-zero-weights').map(([root]) => root);
    expect(kept[1]).not.toBe(blocks[1]!.stateRoot);
    await producer.stop();
  });
});
