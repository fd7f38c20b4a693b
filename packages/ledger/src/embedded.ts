/**
 * A ready-to-use ledger in one call: producer started, LedgerHook to mount.
 * This entry is browser-safe and keeps everything in memory unless a store
 * and identity are passed; `@peerbench/ledger/embedded` (Node) adds a data
 * directory with a SQLite store and a persistent producer key.
 */

import { generateIdentity, type Identity } from '@peerbench/protocol';
import { defaultGenesis, type GenesisConfig } from './genesis.js';
import { BlockProducer, DEFAULT_BLOCK_INTERVAL_MS } from './producer.js';
import { createLedgerHook, type LedgerHook } from './server-hook.js';
import { type LedgerStore, MemoryStore } from './store.js';

export interface EmbeddedLedgerOptions {
  /** Block store; default a fresh MemoryStore. */
  store?: LedgerStore;
  /** Producer key; default a fresh one (it must be the stored genesis producer when the store is not new). */
  identity?: Identity;
  blockIntervalMs?: number;
  /** Overrides of the default genesis, used only when the store is new. */
  genesis?: Partial<Omit<GenesisConfig, 'producer'>>;
  /** Group-commit window of the durable mempool (stores that keep it; default DEFAULT_GROUP_COMMIT_WINDOW_MS). */
  groupCommitWindowMs?: number;
  /** Start producing immediately (default true). */
  autoStart?: boolean;
}

export interface EmbeddedLedger {
  producer: BlockProducer;
  hook: LedgerHook;
  store: LedgerStore;
  identity: Identity;
  /** Stops production (finishing a block in progress) and closes the store. */
  stop(): Promise<void>;
}

export async function openEmbeddedLedger(options: EmbeddedLedgerOptions = {}): Promise<EmbeddedLedger> {
  const store = options.store ?? new MemoryStore();
  const identity = options.identity ?? (await generateIdentity());
  const stored = await store.loadGenesis();
  const producer = await BlockProducer.open({
    store,
    identity,
    genesis: stored
      ? undefined
      : defaultGenesis(identity.peerId, { timestampMs: Date.now(), ...options.genesis }),
    blockIntervalMs: options.blockIntervalMs ?? DEFAULT_BLOCK_INTERVAL_MS,
    ...(options.groupCommitWindowMs === undefined
      ? {}
      : { groupCommitWindowMs: options.groupCommitWindowMs }),
  });
  if (options.autoStart ?? true) producer.start();
  return {
    producer,
    hook: createLedgerHook(producer),
    store,
    identity,
    async stop() {
      await producer.stop();
      await store.close();
    },
  };
}
