/**
 * The block producer (runs inside the signaling server by default). Txs are
 * admitted into a bounded mempool after stateless checks, checks against the
 * committed state and an async signature check. Every BLOCK_INTERVAL_MS it
 * takes pending txs in arrival order, re-checks each against the state being
 * built (dropping those that no longer fit, e.g. a second step of the same
 * uid that would exceed ε), computes R and inflation, signs the block,
 * persists it, and only then announces it to subscribers.
 *
 * With a store that keeps the mempool (SqliteStore), "ok means on disk":
 * admitted txs are written in a group commit (one store transaction per
 * event-loop turn) and submitTx answers ok only after that commit; a block
 * deletes the txs it settled in its own store transaction; open() re-admits
 * the stored txs (see ./durable-mempool.ts).
 */
import type { Identity } from '@peerbench/protocol';
import { type BlockJson, MAX_BLOCK_TXS } from './block.js';
import { buildBlock, openVerifiedChain } from './block-builder.js';
import {
  DEFAULT_GROUP_COMMIT_WINDOW_MS,
  type DurableMempoolStore,
  GroupCommit,
  hasDurableMempool,
  type MempoolRecovery,
  type PendingTxRow,
} from './durable-mempool.js';
import { isLedgerError, isTxErrorCode, LedgerError, type TxErrorCode } from './errors.js';
import { type GenesisConfig, parseGenesis, producersOf } from './genesis.js';
import type { LightClient } from './light-client.js';
import type { LedgerState, LedgerStateView } from './state.js';
import type { LedgerStore } from './store.js';
import { type ParsedTx, parseTx, verifyTxSignature } from './transaction.js';

export const DEFAULT_BLOCK_INTERVAL_MS = 2000;
export const DEFAULT_MAX_MEMPOOL_TXS = 16_384;
export const DEFAULT_MAX_PENDING_PER_UID = 4;
/** How often the state is snapshotted with the block (restart replays at most this many blocks). */
export const DEFAULT_SNAPSHOT_EVERY_BLOCKS = 256;

export type SubmitResult = { ok: true; hash: string } | { ok: false; code: TxErrorCode; message: string };

export interface BlockProducerOptions {
  store: LedgerStore;
  /** The producer key; must be one of the genesis producers (producersOf). */
  identity: Identity;
  /** Used when the store is empty; when it is not, the stored genesis wins (and must match if both given). */
  genesis?: GenesisConfig;
  blockIntervalMs?: number;
  maxMempoolTxs?: number;
  maxPendingPerUid?: number;
  maxTxsPerBlock?: number;
  /** Clock for block timestamps (ms). */
  now?: () => number;
  snapshotEveryBlocks?: number;
  /** With a store that keeps the mempool: how long a group commit gathers txs before its one write (default 4 ms). */
  groupCommitWindowMs?: number;
}

export interface ProducedBlock {
  readonly block: BlockJson;
  readonly hash: string;
  /** State after this block (computed on first read). */
  readonly state: LedgerStateView;
}

export class BlockProducer {
  readonly genesis: GenesisConfig;
  readonly blockIntervalMs: number;
  private readonly store: LedgerStore;
  private readonly identity: Identity;
  private readonly maxMempoolTxs: number;
  private readonly maxPendingPerUid: number;
  private readonly maxTxsPerBlock: number;
  private readonly now: () => number;
  private readonly snapshotEvery: number;
  private committed: LedgerState;
  private headBlock: BlockJson | undefined;
  private mempool: ParsedTx[] = [];
  private pendingKeys = new Set<string>();
  private pendingPerUid = new Map<number, { count: number; maxNonce: number }>();
  private subscribers = new Set<(b: ProducedBlock) => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private producing: Promise<unknown> = Promise.resolve();
  private cachedView: LedgerStateView | undefined;
  /** Present when the store keeps the mempool: admitted txs wait here for their group commit. */
  private readonly commit: GroupCommit<PendingTxRow> | undefined;
  /** Admitted txs whose group commit has not finished (they count against the mempool cap). */
  private staging = 0;
  private recoveryCounts: MempoolRecovery = { restored: 0, dropped: 0 };

  private constructor(
    options: BlockProducerOptions,
    genesis: GenesisConfig,
    client: LightClient,
    head: BlockJson | undefined,
  ) {
    this.store = options.store;
    this.identity = options.identity;
    this.genesis = genesis;
    this.blockIntervalMs = options.blockIntervalMs ?? DEFAULT_BLOCK_INTERVAL_MS;
    this.maxMempoolTxs = options.maxMempoolTxs ?? DEFAULT_MAX_MEMPOOL_TXS;
    this.maxPendingPerUid = options.maxPendingPerUid ?? DEFAULT_MAX_PENDING_PER_UID;
    this.maxTxsPerBlock = Math.min(options.maxTxsPerBlock ?? MAX_BLOCK_TXS, MAX_BLOCK_TXS);
    this.now = options.now ?? Date.now;
    this.snapshotEvery = Math.max(1, options.snapshotEveryBlocks ?? DEFAULT_SNAPSHOT_EVERY_BLOCKS);
    this.committed = client.state;
    this.headBlock = head;
    const store = this.store;
    if (hasDurableMempool(store))
      this.commit = new GroupCommit(
        (rows) => store.persistPending(rows),
        options.groupCommitWindowMs ?? DEFAULT_GROUP_COMMIT_WINDOW_MS,
      );
  }

  /**
   * Opens the chain in `store`: saves the genesis if the store is new, then
   * re-verifies every stored block from genesis with a LightClient (a corrupt
   * store is refused rather than extended).
   */
  static async open(options: BlockProducerOptions): Promise<BlockProducer> {
    const stored = await options.store.loadGenesis();
    const genesis = stored ?? options.genesis;
    if (!genesis) throw new LedgerError('genesis-mismatch', 'empty store and no genesis given');
    if (options.genesis) await options.store.saveGenesis(options.genesis);
    else if (!stored) await options.store.saveGenesis(genesis);
    if (!producersOf(genesis).includes(options.identity.peerId))
      throw new LedgerError('genesis-mismatch', 'producer identity is not a genesis producer');
    const { client, head } = await openVerifiedChain(options.store, parseGenesis(genesis));
    const producer = new BlockProducer(options, client.genesis, client, head);
    if (hasDurableMempool(options.store)) await producer.recoverMempool(options.store);
    return producer;
  }

  /**
   * Re-admits the txs the store kept (acknowledged, not yet in a block), in
   * their original order, with the same checks as submitTx against the state
   * at the head; those that no longer apply are deleted and counted.
   */
  private async recoverMempool(store: DurableMempoolStore): Promise<void> {
    const rows = await store.pendingTxs();
    const dropped: string[] = [];
    for (const row of rows) {
      try {
        const tx = parseTx(row.json);
        this.admit(tx);
        if (!(await verifyTxSignature(tx, this.committed.signerKey(tx))))
          throw new LedgerError('bad-signature', 'stored tx signature does not verify');
        this.reserve(tx);
        this.mempool.push(tx);
      } catch {
        dropped.push(row.hash);
      }
    }
    await store.removePending(dropped);
    this.recoveryCounts = { restored: rows.length - dropped.length, dropped: dropped.length };
  }

  /** What open() found in the stored mempool: re-admitted txs and dropped ones (0/0 without a durable store). */
  get recovery(): MempoolRecovery {
    return this.recoveryCounts;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops the timer and waits for a block in progress to be persisted and announced, and for pending group commits. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.producing.catch(() => undefined);
    await this.commit?.idle();
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.produceBlock()
        .catch(() => undefined)
        .finally(() => this.schedule());
    }, this.blockIntervalMs);
  }

  get height(): number {
    return this.committed.height;
  }

  get mempoolSize(): number {
    return this.mempool.length;
  }

  head(): BlockJson | undefined {
    return this.headBlock;
  }

  /** Committed state (do not mutate). */
  get ledgerState(): LedgerState {
    return this.committed;
  }

  state(): LedgerStateView {
    this.cachedView ??= this.committed.view();
    return this.cachedView;
  }

  blocksFrom(from: number, limit: number): Promise<BlockJson[]> {
    return this.store.blocksFrom(from, limit);
  }

  /** Called after each block is persisted. Returns an unsubscribe function. */
  onBlock(cb: (b: ProducedBlock) => void): () => void {
    this.subscribers.add(cb);
    return () => this.subscribers.delete(cb);
  }

  /** Admission checks that need no signature; throws LedgerError. */
  private admit(tx: ParsedTx): void {
    if (this.mempool.length + this.staging >= this.maxMempoolTxs)
      throw new LedgerError(
        'mempool-full',
        `mempool holds its maximum of ${this.maxMempoolTxs} txs; retry next block`,
      );
    this.committed.checkTx(tx);
    if (tx.kind === 'register') {
      if (this.pendingKeys.has(tx.peerId))
        throw new LedgerError('duplicate-key', 'a register tx for this key is pending');
      // Pending registrations count: an acknowledged registration must find a uid.
      if (this.committed.size + this.pendingKeys.size >= this.genesis.maxUids)
        throw new LedgerError(
          'registry-full',
          `registry holds ${this.committed.size} uids and ${this.pendingKeys.size} pending registrations (max ${this.genesis.maxUids})`,
        );
      return;
    }
    const p = this.pendingPerUid.get(tx.uid);
    if (p && p.count >= this.maxPendingPerUid)
      throw new LedgerError(
        'too-many-pending',
        `uid ${tx.uid} already has ${p.count} pending txs (max ${this.maxPendingPerUid})`,
      );
    if (p && tx.nonce <= p.maxNonce)
      throw new LedgerError(
        'replayed-nonce',
        `nonce ${tx.nonce} must exceed the pending nonce ${p.maxNonce}`,
      );
  }

  /** Validates and queues a tx (wire form: object or JSON string). Never throws. */
  async submitTx(input: unknown): Promise<SubmitResult> {
    try {
      const tx = parseTx(input);
      this.admit(tx);
      if (!(await verifyTxSignature(tx, this.committed.signerKey(tx))))
        throw new LedgerError('bad-signature', 'signature does not verify against the signer key');
      // The state may have moved while the signature was checked: check again before queuing.
      this.admit(tx);
      this.reserve(tx);
      if (this.commit) {
        // "ok means on disk": answer only after the group commit holding this tx.
        this.staging++;
        try {
          await this.commit.add({ hash: tx.hash, json: JSON.stringify(tx.json) });
        } catch (e) {
          this.release(tx);
          throw new LedgerError(
            'mempool-full',
            `the tx could not be stored (${e instanceof Error ? e.message : String(e)}); it is not kept, retry`,
          );
        } finally {
          this.staging--;
        }
      }
      this.mempool.push(tx);
      return { ok: true, hash: tx.hash };
    } catch (e) {
      if (isLedgerError(e) && isTxErrorCode(e.code)) return { ok: false, code: e.code, message: e.message };
      return { ok: false, code: 'malformed', message: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Produces one block now (the timer calls this; tests may too). Serialised. */
  produceBlock(): Promise<ProducedBlock> {
    const run = this.producing.then(() => this.produceNow());
    this.producing = run.catch(() => undefined);
    return run;
  }

  private async produceNow(): Promise<ProducedBlock> {
    const taken = this.mempool.slice(0, this.maxTxsPerBlock);
    const { block, next, deferred, snapshot } = await buildBlock(
      this.committed,
      taken,
      this.identity,
      this.now(),
      this.snapshotEvery,
    );
    // Included or dropped txs leave the stored mempool in the block's own transaction.
    const kept = new Set(deferred);
    const settled = this.commit ? taken.filter((tx) => !kept.has(tx)).map((tx) => tx.hash) : undefined;
    await this.store.appendBlock(block.json, block.hash, snapshot, settled);
    // Persisted: now it is safe to commit and announce.
    this.committed = next;
    this.headBlock = block.json;
    this.cachedView = undefined;
    this.removeFromMempool(taken.length, deferred);
    // The view of 4,096 rows costs real time; build it only if a subscriber reads it.
    let view: LedgerStateView | undefined;
    const produced: ProducedBlock = {
      block: block.json,
      hash: block.hash,
      get state() {
        view ??= next.view();
        return view;
      },
    };
    for (const cb of this.subscribers) {
      try {
        cb(produced);
      } catch {
        // A failing subscriber must not stop production or other subscribers.
      }
    }
    return produced;
  }

  /** Takes the first `count` txs out of the mempool, putting `deferred` (some of them) back in front. */
  private removeFromMempool(count: number, deferred: ParsedTx[]): void {
    const kept = new Set(deferred);
    const removed = this.mempool.splice(0, count, ...deferred);
    for (const tx of removed) if (!kept.has(tx)) this.release(tx);
  }

  /** Counts an admitted tx against its key or uid (undone by release). */
  private reserve(tx: ParsedTx): void {
    if (tx.kind === 'register') this.pendingKeys.add(tx.peerId);
    else {
      const p = this.pendingPerUid.get(tx.uid) ?? { count: 0, maxNonce: 0 };
      p.count++;
      p.maxNonce = Math.max(p.maxNonce, tx.nonce);
      this.pendingPerUid.set(tx.uid, p);
    }
  }

  private release(tx: ParsedTx): void {
    if (tx.kind === 'register') this.pendingKeys.delete(tx.peerId);
    else {
      const p = this.pendingPerUid.get(tx.uid);
      if (p && --p.count <= 0) this.pendingPerUid.delete(tx.uid);
    }
  }
}
