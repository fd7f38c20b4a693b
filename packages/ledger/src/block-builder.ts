/**
 * The two halves of block production that do not depend on where txs come
 * from or where blocks go, shared by the embedded BlockProducer (mempool in
 * memory) and the clustered producer (txs from a JetStream stream):
 *
 *   buildBlock        the state transition: candidate txs in order, each
 *                     re-checked against the state being built, signed header
 *   openVerifiedChain re-verifies a store from genesis (or its latest sound
 *                     snapshot) with a LightClient before anything extends it
 */

import type { Identity } from '@peerbench/protocol';
import { type BlockJson, type ParsedBlock, parseBlock, signBlock, txRoot } from './block.js';
import { isLedgerError, LedgerError } from './errors.js';
import type { GenesisConfig } from './genesis.js';
import { LightClient } from './light-client.js';
import { LedgerState } from './state.js';
import type { LedgerStore, StateSnapshot } from './store.js';
import type { ParsedTx } from './transaction.js';

export interface BuiltBlock {
  readonly block: ParsedBlock;
  /** State after the block (head hash set). */
  readonly next: LedgerState;
  readonly included: ParsedTx[];
  /** Registrations over the genesis' per-block cap: still valid, for a later block, in order. */
  readonly deferred: ParsedTx[];
  /** Set when the height is a multiple of snapshotEveryBlocks: store it with the block. */
  readonly snapshot: StateSnapshot | undefined;
}

/**
 * Builds and signs block base.height+1 from `candidates` (in order): a tx that
 * no longer fits the state being built (e.g. a later step of the same uid that
 * would exceed ε, or a tx already included) is dropped, registrations over the
 * per-block cap are deferred. `base` is not modified.
 */
export async function buildBlock(
  base: LedgerState,
  candidates: readonly ParsedTx[],
  identity: Identity,
  nowMs: number,
  snapshotEveryBlocks: number,
): Promise<BuiltBlock> {
  const next = base.clone();
  const included: ParsedTx[] = [];
  const deferred: ParsedTx[] = [];
  for (const tx of candidates) {
    try {
      next.checkTx(tx);
    } catch (e) {
      if (isLedgerError(e) && e.code === 'registration-cap') deferred.push(tx);
      continue; // otherwise no longer valid: dropped
    }
    next.applyTx(tx);
    included.push(tx);
  }
  const height = base.height + 1;
  const timestampMs = Math.max(nowMs, base.timestampMs);
  const root = txRoot(included.map((t) => t.hash));
  // The header hash depends on the state root, which depends on the height
  // but not on the hash: finish with a placeholder hash, then set it.
  next.finishBlock(height, '', timestampMs);
  const block = await signBlock(
    identity,
    { height, parentHash: base.headHash, timestampMs, txRoot: root, stateRoot: next.root() },
    included,
  );
  next.headHash = block.hash;
  const snapshot =
    height % Math.max(1, snapshotEveryBlocks) === 0
      ? { height, headHash: block.hash, timestampMs, state: next.encode() }
      : undefined;
  return { block, next, included, deferred, snapshot };
}

/**
 * A light client at the store's head: every stored block re-verified from the
 * latest sound snapshot (its root is the stateRoot of the stored block at its
 * height and its head hash that block's hash), else from genesis. A block
 * that does not verify throws store-incompatible (the store cannot be
 * continued; the block's own code is in the message).
 */
export async function openVerifiedChain(
  store: LedgerStore,
  genesis: GenesisConfig,
): Promise<{ client: LightClient; head: BlockJson | undefined }> {
  const client = await startingClient(store, genesis);
  const headHeight = await store.headHeight();
  let head: BlockJson | undefined = client.height > 0 ? await store.getBlock(client.height) : undefined;
  const PAGE = 256;
  for (let from = client.height + 1; from <= headHeight; from += PAGE) {
    for (const b of await store.blocksFrom(from, PAGE)) {
      try {
        await client.apply(b);
      } catch (e) {
        // The usual cause is a store written by an older ledger format (tx v1 / state v1).
        if (isLedgerError(e))
          throw new LedgerError(
            'store-incompatible',
            `stored block ${b.height} does not verify (${e.code}: ${e.message}); the store may be corrupt or written by an older ledger format — move it away to start a new chain`,
          );
        throw e;
      }
      head = b;
    }
  }
  return { client, head };
}

async function startingClient(store: LedgerStore, genesis: GenesisConfig): Promise<LightClient> {
  const snap = await store.latestSnapshot();
  if (snap) {
    try {
      const stored = await store.getBlock(snap.height);
      const state = LedgerState.decode(genesis, snap.state, snap.headHash, snap.timestampMs);
      if (stored && parseBlock(stored).hash === snap.headHash && state.root() === stored.stateRoot)
        return new LightClient(genesis, { from: state });
    } catch {
      // unusable snapshot: fall back to a full replay
    }
  }
  return new LightClient(genesis);
}
