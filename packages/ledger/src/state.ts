/**
 * The ledger state and its transition function: registry (uid ↔ key), W as
 * sparse fixed-point rows, nonces, stake S, rank R, τ. Everything here is
 * synchronous and deterministic; signatures are checked by the caller
 * (producer at admission, light client per block) because they are async.
 */

import { toHex } from '@peerbench/protocol';
import { ByteReader, ByteWriter, DOMAIN_STATE, sha256Hex } from './encoding.js';
import { LedgerError } from './errors.js';
import { activityCutoffOf, type GenesisConfig, genesisHash } from './genesis.js';
import { registrationWorkBits } from './registration-work.js';
import { inflateStake, initialTau, nextTau, sparseRank, sparseSparsity } from './stake.js';
import type { ParsedTx } from './transaction.js';
import { rowStepL2, rowToPairs, type SparseRow, selfRow, WEIGHT_SCALE } from './weights.js';

/** What an inactive row contributes: nothing (an all-zero row of the dense W). */
const NO_ROW: SparseRow = { uids: new Uint32Array(0), weights: new Uint32Array(0) };

/** The JSON-friendly picture of the state that peers, the dashboard and GET /ledger/state use. */
export interface LedgerStateView {
  chainId: string;
  genesisHash: string;
  height: number;
  headHash: string;
  timestampMs: number;
  stateRoot: string;
  /** τ that the next block will use. */
  tau: number;
  stepBoundL2: number;
  /** Σ diag(W) / Σ W (eq 17) over the active rows (0 when no row is active; τ then holds). */
  sparsity: number;
  weightScale: number;
  /** uid → peer id (hex public key). */
  peers: string[];
  stake: number[];
  /** R of the last block (zeros before the first block). */
  rank: number[];
  /** Last accepted nonce per uid (0 = none yet); the next tx needs a larger one. */
  nonces: number[];
  /** Sparse W: row i as (uid, fixed-point weight) pairs; divide by weightScale for fractions. */
  weights: Array<Array<[number, number]>>;
  /** Height of the block that applied uid i's last set-weights tx (0 = never; its row is then the all-self reference row). */
  lastSetHeight: number[];
  /** Rows that counted in this height's R, sparsity and inflation: 0 < lastSetHeight ≤ height ≤ lastSetHeight + activityCutoffBlocks. */
  activeRows: boolean[];
  /** The genesis activity cutoff in blocks (rows older than this stop counting). */
  activityCutoffBlocks: number;
  /** Leading zero bits a register tx's proof of work needs on this chain (0 = none). */
  registrationWorkBits: number;
  /** Whether w_ii counts in R on this chain (genesis selfWeightsInRank; absent ⇒ true, the paper's eq 5). */
  selfWeightsInRank: boolean;
}

export class LedgerState {
  readonly genesis: GenesisConfig;
  readonly genesisHash: string;
  height = 0;
  headHash: string;
  timestampMs: number;
  tau: number;
  sparsity = 1;
  peers: string[] = [];
  publicKeys: Uint8Array[] = [];
  uidByPeer = new Map<string, number>();
  rows: SparseRow[] = [];
  nonces: number[] = [];
  /** Height of the block that applied each uid's last set-weights (0 = never). */
  lastSetHeight: number[] = [];
  stake: Float64Array = new Float64Array(0);
  rank: Float64Array = new Float64Array(0);
  /** Rows as they were when the current block started: ε is measured against these. */
  private blockStartRows = new Map<number, SparseRow>();
  /** Register txs applied in the block being built (capped by genesis.maxRegistrationsPerBlock). */
  private registrationsInBlock = 0;
  private cachedRoot: string | undefined;

  constructor(genesis: GenesisConfig, hash = genesisHash(genesis)) {
    this.genesis = genesis;
    this.genesisHash = hash;
    this.headHash = hash;
    this.timestampMs = genesis.timestampMs;
    this.tau = initialTau(genesis.tau);
  }

  get size(): number {
    return this.peers.length;
  }

  /** Cheap copy for speculative application: rows are immutable and shared. */
  clone(): LedgerState {
    const c = new LedgerState(this.genesis, this.genesisHash);
    c.height = this.height;
    c.headHash = this.headHash;
    c.timestampMs = this.timestampMs;
    c.tau = this.tau;
    c.sparsity = this.sparsity;
    c.peers = this.peers.slice();
    c.publicKeys = this.publicKeys.slice();
    c.uidByPeer = new Map(this.uidByPeer);
    c.rows = this.rows.slice();
    c.nonces = this.nonces.slice();
    c.lastSetHeight = this.lastSetHeight.slice();
    c.stake = this.stake.slice();
    c.rank = this.rank.slice();
    c.blockStartRows = new Map(this.blockStartRows);
    c.registrationsInBlock = this.registrationsInBlock;
    c.cachedRoot = this.cachedRoot;
    return c;
  }

  /** Key that must have signed `tx` (undefined: unknown uid). */
  signerKey(tx: ParsedTx): Uint8Array | undefined {
    return tx.kind === 'register' ? tx.publicKey : this.publicKeys[tx.uid];
  }

  /**
   * Stateful validation of a tx against this state. Throws LedgerError with
   * wrong-chain, duplicate-key, registry-full, insufficient-work,
   * registration-cap, unknown-uid, replayed-nonce or step-too-large.
   */
  checkTx(tx: ParsedTx): void {
    // First: a tx for another chain is refused as such, before its signature costs anything.
    if (tx.genesisHash !== this.genesisHash)
      throw new LedgerError(
        'wrong-chain',
        `tx is signed for chain ${tx.genesisHash.slice(0, 12)}…, this chain is ${this.genesisHash.slice(0, 12)}…`,
      );
    if (tx.kind === 'register') {
      if (this.uidByPeer.has(tx.peerId))
        throw new LedgerError(
          'duplicate-key',
          `key ${tx.peerId.slice(0, 12)}… already has uid ${this.uidByPeer.get(tx.peerId)}`,
        );
      if (this.peers.length >= this.genesis.maxUids)
        throw new LedgerError('registry-full', `registry holds its maximum of ${this.genesis.maxUids} uids`);
      const bits = this.genesis.registrationWorkBits ?? 0;
      if (bits > 0 && registrationWorkBits(this.genesisHash, tx.publicKey, tx.work) < bits)
        throw new LedgerError(
          'insufficient-work',
          `register needs proof of work with ${bits} leading zero bits (solveRegistrationWork)`,
        );
      const cap = this.genesis.maxRegistrationsPerBlock;
      if (cap !== undefined && this.registrationsInBlock >= cap)
        throw new LedgerError('registration-cap', `this block already holds its ${cap} registrations`);
      return;
    }
    const n = this.peers.length;
    if (tx.uid >= n)
      throw new LedgerError('unknown-uid', `signer uid ${tx.uid} is not registered (${n} uids)`);
    const { uids } = tx.row;
    const last = uids.length > 0 ? uids[uids.length - 1]! : -1;
    if (last >= n)
      throw new LedgerError('unknown-uid', `row names uid ${last}, only ${n} uids are registered`);
    const prev = this.nonces[tx.uid]!;
    if (tx.nonce <= prev)
      throw new LedgerError(
        'replayed-nonce',
        `nonce ${tx.nonce} must be greater than the last accepted nonce ${prev}`,
      );
    const base = this.blockStartRows.get(tx.uid) ?? this.rows[tx.uid]!;
    const step = rowStepL2(tx.row, base);
    if (step > this.genesis.stepBoundL2)
      throw new LedgerError(
        'step-too-large',
        `‖ΔW_${tx.uid}‖₂ = ${step.toFixed(6)} exceeds ε = ${this.genesis.stepBoundL2}; rejected, not clipped (move at most ε per block)`,
      );
  }

  /** Applies a tx that passed checkTx (and whose signature was verified). */
  applyTx(tx: ParsedTx): void {
    this.cachedRoot = undefined;
    if (tx.kind === 'register') {
      const uid = this.peers.length;
      this.peers.push(tx.peerId);
      this.publicKeys.push(tx.publicKey);
      this.uidByPeer.set(tx.peerId, uid);
      this.rows.push(selfRow(uid));
      this.nonces.push(0);
      this.lastSetHeight.push(0);
      this.registrationsInBlock++;
      this.stake = appendZero(this.stake);
      this.stake[uid] = uid < this.genesis.faucetRegistrations ? this.genesis.registrationStake : 0;
      this.rank = appendZero(this.rank);
      return;
    }
    if (!this.blockStartRows.has(tx.uid)) this.blockStartRows.set(tx.uid, this.rows[tx.uid]!);
    this.rows[tx.uid] = tx.row;
    this.nonces[tx.uid] = tx.nonce;
    // Txs are applied while block height+1 is being built.
    this.lastSetHeight[tx.uid] = this.height + 1;
  }

  /** Whether uid's row counts at block `height` (Bittensor's activity cutoff; never-set rows never count). */
  isRowActive(uid: number, height: number): boolean {
    const last = this.lastSetHeight[uid] ?? 0;
    return last > 0 && last <= height && height - last <= activityCutoffOf(this.genesis);
  }

  /**
   * W as the mechanism sees it at block `height`: inactive rows replaced by
   * empty ones. A registered uid that never set weights (row = all self
   * weight) would otherwise earn R_i = s_i/n from its own stake alone and
   * out-rank peers that spread their rows.
   */
  activeRowsAt(height: number): SparseRow[] {
    const out = new Array<SparseRow>(this.rows.length);
    for (let i = 0; i < this.rows.length; i++) out[i] = this.isRowActive(i, height) ? this.rows[i]! : NO_ROW;
    return out;
  }

  /**
   * End of block (Algorithm 1) over the active rows only: R from S and W,
   * S ← S + τR/‖R‖, then τ for the next block. With no active row R = 0 (S
   * unchanged) and there is no sparsity reading, so τ holds instead of
   * drifting on an empty statistic.
   */
  finishBlock(height: number, blockHash: string, timestampMs: number): void {
    this.cachedRoot = undefined;
    const rows = this.activeRowsAt(height);
    this.rank = sparseRank(rows, this.stake, undefined, this.genesis.selfWeightsInRank !== false);
    this.stake = inflateStake(this.stake, this.rank, this.tau);
    this.sparsity = sparseSparsity(rows);
    if (rows.some((r) => r.uids.length > 0)) this.tau = nextTau(this.genesis.tau, this.tau, this.sparsity);
    this.blockStartRows.clear();
    this.registrationsInBlock = 0;
    this.height = height;
    this.headHash = blockHash;
    this.timestampMs = timestampMs;
  }

  /**
   * Canonical state bytes (what the state root hashes):
   *   str(DOMAIN_STATE) str(genesisHash) u64 height f64 τ f64 sparsity u32 n
   *   n × ( key[32] f64 stake f64 rank u64 nonce u64 lastSetHeight u16 count count × (u32 uid, u32 weight) )
   * The head hash is not part of it (it is in the block that carries the root).
   */
  encode(): Uint8Array {
    let entries = 0;
    for (const r of this.rows) entries += r.uids.length;
    const w = new ByteWriter(128 + this.peers.length * 72 + entries * 8);
    w.str(DOMAIN_STATE).str(this.genesisHash).u64(this.height).f64(this.tau).f64(this.sparsity);
    w.u32(this.peers.length);
    for (let i = 0; i < this.peers.length; i++) {
      const row = this.rows[i]!;
      w.bytes(this.publicKeys[i]!).f64(this.stake[i]!).f64(this.rank[i]!).u64(this.nonces[i]!);
      w.u64(this.lastSetHeight[i]!).u16(row.uids.length);
      for (let k = 0; k < row.uids.length; k++) w.u32(row.uids[k]!).u32(row.weights[k]!);
    }
    return w.finish();
  }

  /**
   * Rebuilds a state from encode() output (a snapshot). The head hash and
   * timestamp are not part of the encoding; the caller takes them from the
   * block at that height. Throws LedgerError('malformed') on any mismatch.
   */
  static decode(
    genesis: GenesisConfig,
    bytes: Uint8Array,
    headHash: string,
    timestampMs: number,
  ): LedgerState {
    const s = new LedgerState(genesis);
    try {
      const r = new ByteReader(bytes);
      if (r.str() !== DOMAIN_STATE || r.str() !== s.genesisHash) throw new RangeError('other chain');
      s.height = r.u64();
      s.tau = r.f64();
      s.sparsity = r.f64();
      const n = r.u32();
      s.stake = new Float64Array(n);
      s.rank = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const key = r.bytes(32);
        const peerId = toHex(key);
        s.publicKeys.push(key);
        s.peers.push(peerId);
        s.uidByPeer.set(peerId, i);
        s.stake[i] = r.f64();
        s.rank[i] = r.f64();
        s.nonces.push(r.u64());
        const last = r.u64();
        if (last > s.height)
          throw new RangeError(`uid ${i} set weights at ${last}, after height ${s.height}`);
        s.lastSetHeight.push(last);
        const count = r.u16();
        const uids = new Uint32Array(count);
        const weights = new Uint32Array(count);
        for (let k = 0; k < count; k++) {
          uids[k] = r.u32();
          weights[k] = r.u32();
        }
        s.rows.push({ uids, weights });
      }
      if (!r.done) throw new RangeError('trailing bytes');
    } catch (e) {
      throw new LedgerError('malformed', `bad state snapshot: ${e instanceof Error ? e.message : String(e)}`);
    }
    s.headHash = headHash;
    s.timestampMs = timestampMs;
    return s;
  }

  root(): string {
    this.cachedRoot ??= sha256Hex(this.encode());
    return this.cachedRoot;
  }

  view(): LedgerStateView {
    return {
      chainId: this.genesis.chainId,
      genesisHash: this.genesisHash,
      height: this.height,
      headHash: this.headHash,
      timestampMs: this.timestampMs,
      stateRoot: this.root(),
      tau: this.tau,
      stepBoundL2: this.genesis.stepBoundL2,
      sparsity: this.sparsity,
      weightScale: WEIGHT_SCALE,
      peers: this.peers.slice(),
      stake: Array.from(this.stake),
      rank: Array.from(this.rank),
      nonces: this.nonces.slice(),
      weights: this.rows.map(rowToPairs),
      lastSetHeight: this.lastSetHeight.slice(),
      activeRows: this.rows.map((_, i) => this.isRowActive(i, this.height)),
      activityCutoffBlocks: activityCutoffOf(this.genesis),
      registrationWorkBits: this.genesis.registrationWorkBits ?? 0,
      selfWeightsInRank: this.genesis.selfWeightsInRank !== false,
    };
  }
}

/**
 * `values` one longer, with a 0 at the end. Grows the buffer by doubling and
 * returns a view, so n registrations cost O(n) in all, not O(n²): registering
 * the 60,000th uid no longer copies 60,000 stakes and ranks.
 */
function appendZero(values: Float64Array): Float64Array {
  const n = values.length;
  if (values.byteOffset === 0 && values.buffer.byteLength >= (n + 1) * 8) {
    const grown = new Float64Array(values.buffer, 0, n + 1);
    grown[n] = 0;
    return grown;
  }
  const buffer = new Float64Array(Math.max(16, 2 * n));
  buffer.set(values);
  return buffer.subarray(0, n + 1);
}

/** uid of a peer in a state view, or undefined if it has not registered (yet). */
export function uidOf(view: Pick<LedgerStateView, 'peers'>, peerId: string): number | undefined {
  const i = view.peers.indexOf(peerId);
  return i < 0 ? undefined : i;
}
