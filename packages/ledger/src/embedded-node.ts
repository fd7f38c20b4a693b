/**
 * The ledger as the signaling server embeds it (Node only): a producer key
 * kept in <dataDir>/producer.key (the genesis pins it, so it must survive
 * restarts) and blocks in <dataDir>/ledger.db (SQLite). Without dataDir it is
 * the in-memory openEmbeddedLedger of the main entry.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type EmbeddedLedger,
  type EmbeddedLedgerOptions,
  openEmbeddedLedger as openInMemoryOrInjected,
} from './embedded.js';
import { fromHex, generateIdentity, type Identity, identityFromSecretKey, toHex } from './identity.js';
import { SqliteStore } from './sqlite-store.js';

export type { EmbeddedLedger, EmbeddedLedgerOptions };

async function loadOrCreateKey(path: string): Promise<Identity> {
  if (existsSync(path)) return identityFromSecretKey(fromHex(readFileSync(path, 'utf8').trim()));
  const id = await generateIdentity();
  writeFileSync(path, `${toHex(id.secretKey)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return id;
}

export async function openEmbeddedLedger(
  options: EmbeddedLedgerOptions & { /** Directory for ledger.db and producer.key. */ dataDir?: string } = {},
): Promise<EmbeddedLedger> {
  const { dataDir, ...rest } = options;
  if (!dataDir) return openInMemoryOrInjected(rest);
  mkdirSync(dataDir, { recursive: true });
  return openInMemoryOrInjected({
    ...rest,
    identity: rest.identity ?? (await loadOrCreateKey(join(dataDir, 'producer.key'))),
    store: rest.store ?? new SqliteStore(join(dataDir, 'ledger.db')),
  });
}
