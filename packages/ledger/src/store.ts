/**
 * Where blocks live. The producer appends a block only after it is complete
 * and signed, and announces it only after appendBlock resolved, so whatever a
 * peer has seen is in the store. Implementations: MemoryStore (here; tests,
 * browsers) and SqliteStore (./sqlite-store.ts, Node only, the default).
 */
import type { BlockJson } from './block.js';
import { LedgerError } from './errors.js';
import { canonicalJson, type GenesisConfig } from './genesis.js';

/** The state after block `height`, as LedgerState.encode() bytes, so a restart need not replay from genesis. */
export interface StateSnapshot {
  height: number;
  headHash: string;
  timestampMs: number;
  state: Uint8Array;
}

export interface LedgerStore {
  readonly kind: string;
  loadGenesis(): Promise<GenesisConfig | undefined>;
  /** Stores the genesis once; storing a different one later throws genesis-mismatch. */
  saveGenesis(genesis: GenesisConfig): Promise<void>;
  /** Height of the last stored block, 0 when there is none. */
  headHeight(): Promise<number>;
  /**
   * Appends block head+1 atomically (all of it or nothing); any other height
   * throws store-conflict. A snapshot, if given, is stored in the same
   * transaction and replaces the previous one. A store that keeps the
   * mempool (DurableMempoolStore) deletes `settledTxHashes` (txs the block
   * included or dropped) in that same transaction; others ignore them.
   */
  appendBlock(
    block: BlockJson,
    hash: string,
    snapshot?: StateSnapshot,
    settledTxHashes?: readonly string[],
  ): Promise<void>;
  /** The latest snapshot stored with appendBlock, if any. */
  latestSnapshot(): Promise<StateSnapshot | undefined>;
  getBlock(height: number): Promise<BlockJson | undefined>;
  /** Blocks with height ≥ from, ascending, at most `limit`. */
  blocksFrom(from: number, limit: number): Promise<BlockJson[]>;
  close(): Promise<void>;
}

export class MemoryStore implements LedgerStore {
  readonly kind = 'memory';
  private genesis: GenesisConfig | undefined;
  private readonly blocks: string[] = [];
  private snapshot: StateSnapshot | undefined;
  private closed = false;

  private live(): void {
    if (this.closed) throw new LedgerError('store-closed', 'store is closed');
  }

  async loadGenesis(): Promise<GenesisConfig | undefined> {
    this.live();
    return this.genesis ? (JSON.parse(JSON.stringify(this.genesis)) as GenesisConfig) : undefined;
  }

  async saveGenesis(genesis: GenesisConfig): Promise<void> {
    this.live();
    if (this.genesis && canonicalJson(this.genesis) !== canonicalJson(genesis))
      throw new LedgerError('genesis-mismatch', 'store already holds a different genesis');
    this.genesis ??= JSON.parse(JSON.stringify(genesis)) as GenesisConfig;
  }

  async headHeight(): Promise<number> {
    this.live();
    return this.blocks.length;
  }

  async appendBlock(block: BlockJson, _hash: string, snapshot?: StateSnapshot): Promise<void> {
    this.live();
    if (block.height !== this.blocks.length + 1)
      throw new LedgerError(
        'store-conflict',
        `cannot append height ${block.height} after ${this.blocks.length}`,
      );
    // Stored serialised, like SQLite, so callers can never mutate stored blocks.
    this.blocks.push(JSON.stringify(block));
    if (snapshot) this.snapshot = { ...snapshot, state: snapshot.state.slice() };
  }

  async latestSnapshot(): Promise<StateSnapshot | undefined> {
    this.live();
    return this.snapshot ? { ...this.snapshot, state: this.snapshot.state.slice() } : undefined;
  }

  async getBlock(height: number): Promise<BlockJson | undefined> {
    this.live();
    const s = Number.isInteger(height) && height >= 1 ? this.blocks[height - 1] : undefined;
    return s === undefined ? undefined : (JSON.parse(s) as BlockJson);
  }

  async blocksFrom(from: number, limit: number): Promise<BlockJson[]> {
    this.live();
    const start = Math.max(1, Math.floor(from));
    const n = Math.max(0, Math.floor(limit));
    return this.blocks.slice(start - 1, start - 1 + n).map((s) => JSON.parse(s) as BlockJson);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
