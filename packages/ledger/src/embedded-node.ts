/**
 * The ledger as the signaling server embeds it (Node only): a producer key
 * kept in <dataDir>/producer.key (the genesis pins it, so it must survive
 * restarts) and blocks in <dataDir>/ledger.db (SQLite). Without dataDir it is
 * the in-memory openEmbeddedLedger of the main entry.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, generateIdentity, type Identity, identityFromSecretKey, toHex } from '@peerbench/protocol';
import {
  type EmbeddedLedger,
  type EmbeddedLedgerOptions,
  openEmbeddedLedger as openInMemoryOrInjected,
} from './embedded.js';
import { isLedgerError } from './errors.js';
import { SqliteStore } from './sqlite-store.js';

export type { EmbeddedLedger, EmbeddedLedgerOptions };

/**
 * The key kept in `path` (hex secret key, one line), created (mode 0600) when
 * the file does not exist. The embedded producer keeps its key this way; a
 * clustered instance (signaling-server --nats) too.
 */
export async function loadOrCreateIdentity(path: string): Promise<Identity> {
  if (existsSync(path)) return identityFromSecretKey(fromHex(readFileSync(path, 'utf8').trim()));
  const id = await generateIdentity();
  writeFileSync(path, `${toHex(id.secretKey)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return id;
}

export interface EmbeddedNodeLedgerOptions extends EmbeddedLedgerOptions {
  /** Directory for ledger.db and producer.key. */
  dataDir?: string;
  /**
   * What to do when the data dir holds a chain that does not verify
   * (`store-incompatible`: corrupt, or an older ledger format): 'fail'
   * (default) rejects; 'archive' renames the whole directory to
   * `<dataDir>.incompatible-<time>` (nothing is deleted) and starts a new
   * chain in a fresh one.
   */
  onIncompatibleStore?: 'fail' | 'archive';
  /** Told where an incompatible data dir was moved (with 'archive'). */
  onArchived?: (archivedTo: string, reason: string) => void;
}

async function openInDir(dataDir: string, rest: EmbeddedLedgerOptions): Promise<EmbeddedLedger> {
  mkdirSync(dataDir, { recursive: true });
  const identity = rest.identity ?? (await loadOrCreateIdentity(join(dataDir, 'producer.key')));
  const store = rest.store ?? new SqliteStore(join(dataDir, 'ledger.db'));
  try {
    return await openInMemoryOrInjected({ ...rest, identity, store });
  } catch (err) {
    // The store was opened here: close it so the file can be moved or reopened.
    if (!rest.store) await store.close().catch(() => undefined);
    throw err;
  }
}

export async function openEmbeddedLedger(options: EmbeddedNodeLedgerOptions = {}): Promise<EmbeddedLedger> {
  const { dataDir, onIncompatibleStore, onArchived, ...rest } = options;
  if (!dataDir) return openInMemoryOrInjected(rest);
  try {
    return await openInDir(dataDir, rest);
  } catch (err) {
    if (onIncompatibleStore !== 'archive' || !isLedgerError(err) || err.code !== 'store-incompatible')
      throw err;
    const archivedTo = `${dataDir}.incompatible-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(dataDir, archivedTo);
    onArchived?.(archivedTo, err.message);
    return openInDir(dataDir, rest);
  }
}
