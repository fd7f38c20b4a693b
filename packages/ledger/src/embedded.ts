/**
 * The ledger as the signaling server embeds it (Node only): a producer key
 * kept in <dataDir>/producer.key (the genesis pins it, so it must survive
 * restarts), blocks in <dataDir>/ledger.db (SQLite), the producer started,
 * and the LedgerHook to mount. Without dataDir everything is in memory with a
 * fresh key (tests, throwaway demos).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultGenesis, type GenesisConfig } from './genesis.js';
import { fromHex, generateIdentity, type Identity, identityFromSecretKey, toHex } from './identity.js';
import { BlockProducer, DEFAULT_BLOCK_INTERVAL_MS } from './producer.js';
import { createLedgerHook, type LedgerHook } from './server-hook.js';
import { SqliteStore } from './sqlite-store.js';
import { type LedgerStore, MemoryStore } from './store.js';

export interface EmbeddedLedgerOptions {
  /** Directory for ledger.db and producer.key; omitted: in memory, fresh key. */
  dataDir?: string;
  blockIntervalMs?: number;
  /** Overrides of the default genesis, used only when the store is new. */
  genesis?: Partial<Omit<GenesisConfig, 'producer'>>;
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

async function loadOrCreateKey(path: string): Promise<Identity> {
  if (existsSync(path)) {
    const hex = readFileSync(path, 'utf8').trim();
    return identityFromSecretKey(fromHex(hex));
  }
  const id = await generateIdentity();
  writeFileSync(path, `${toHex(id.secretKey)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return id;
}

export async function openEmbeddedLedger(options: EmbeddedLedgerOptions = {}): Promise<EmbeddedLedger> {
  let store: LedgerStore;
  let identity: Identity;
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    identity = await loadOrCreateKey(join(options.dataDir, 'producer.key'));
    store = new SqliteStore(join(options.dataDir, 'ledger.db'));
  } else {
    identity = await generateIdentity();
    store = new MemoryStore();
  }
  const stored = await store.loadGenesis();
  const producer = await BlockProducer.open({
    store,
    identity,
    genesis: stored
      ? undefined
      : defaultGenesis(identity.peerId, { timestampMs: Date.now(), ...options.genesis }),
    blockIntervalMs: options.blockIntervalMs ?? DEFAULT_BLOCK_INTERVAL_MS,
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
