/**
 * Browser-safe entry point (server-hook only uses node:http types). Node-only
 * parts have their own subpaths:
 *   @peerbench/ledger/sqlite       SqliteStore (better-sqlite3)
 *   @peerbench/ledger/embedded     openEmbeddedLedger with a data directory (SQLite + persistent key)
 */
export * from './block.js';
export * from './block-parts.js';
export * from './chain.js';
export * from './durable-mempool.js';
export * from './embedded.js';
export * from './errors.js';
export * from './genesis.js';
export * from './light-client.js';
export * from './producer.js';
export * from './registration-work.js';
export * from './server-hook.js';
export * from './stake.js';
export * from './state.js';
export * from './state-pages.js';
export * from './store.js';
export * from './transaction.js';
export * from './weights.js';
