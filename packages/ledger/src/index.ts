/**
 * Browser-safe entry point. Node-only parts have their own subpaths:
 *   @peerbench/ledger/sqlite       SqliteStore (better-sqlite3)
 *   @peerbench/ledger/server-hook  createLedgerHook (node:http types only)
 */
export * from './block.js';
export * from './chain.js';
export * from './errors.js';
export * from './genesis.js';
export * from './identity.js';
export * from './light-client.js';
export * from './producer.js';
export * from './stake.js';
export * from './state.js';
export * from './store.js';
export * from './transaction.js';
export * from './weights.js';
