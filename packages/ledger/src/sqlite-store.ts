/**
 * The embedded default store: SQLite through better-sqlite3 (Node only).
 * WAL journal so readers (HTTP /ledger/blocks) never block the writer;
 * synchronous=FULL so a block is on disk before appendBlock returns, i.e.
 * before the producer announces it (announced blocks survive kill -9 and
 * power loss). Each block is one INSERT inside one transaction.
 * It also keeps the mempool (DurableMempoolStore): admitted txs are written
 * in group commits before they are acknowledged, and deleted in the block's
 * own transaction when a block includes or drops them.
 */
import Database from 'better-sqlite3';
import type { BlockJson } from './block.js';
import type { DurableMempoolStore, PendingTxRow } from './durable-mempool.js';
import { LedgerError } from './errors.js';
import { canonicalJson, type GenesisConfig } from './genesis.js';
import type { LedgerStore, StateSnapshot } from './store.js';

/** Ordered schema migrations; the migrations table records which ran. Append only. */
const MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
      CREATE TABLE blocks (
        height INTEGER PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        tx_count INTEGER NOT NULL,
        json TEXT NOT NULL
      ) STRICT;`,
  },
  {
    // v2: keep the latest state snapshot so restarts replay only the blocks after it.
    version: 2,
    sql: `
      CREATE TABLE snapshot (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        height INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        state BLOB NOT NULL
      ) STRICT;`,
  },
  {
    // v3: the durable mempool — acknowledged txs not yet in a block, in arrival order.
    version: 3,
    sql: `
      CREATE TABLE mempool (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        hash TEXT NOT NULL UNIQUE,
        json TEXT NOT NULL
      ) STRICT;`,
  },
];

export class SqliteStore implements LedgerStore, DurableMempoolStore {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private readonly stmts: {
    getMeta: Database.Statement<[string], { value: string }>;
    putMeta: Database.Statement<[string, string]>;
    head: Database.Statement<[], { h: number | null }>;
    insert: Database.Statement<[number, string, number, string]>;
    get: Database.Statement<[number], { json: string }>;
    range: Database.Statement<[number, number], { json: string }>;
    putSnapshot: Database.Statement<[number, string, number, Uint8Array]>;
    getSnapshot: Database.Statement<
      [],
      { height: number; head_hash: string; timestamp_ms: number; state: Uint8Array }
    >;
    putPending: Database.Statement<[string, string]>;
    delPending: Database.Statement<[string]>;
    allPending: Database.Statement<[], PendingTxRow>;
  };
  private readonly appendTx: (
    block: BlockJson,
    hash: string,
    snapshot: StateSnapshot | undefined,
    settled: readonly string[],
  ) => void;
  private readonly putPendingTx: (rows: readonly PendingTxRow[]) => void;
  private readonly delPendingTx: (hashes: readonly string[]) => void;

  constructor(readonly path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    this.stmts = {
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?'),
      putMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)'),
      head: this.db.prepare('SELECT MAX(height) AS h FROM blocks'),
      insert: this.db.prepare('INSERT INTO blocks (height, hash, tx_count, json) VALUES (?, ?, ?, ?)'),
      get: this.db.prepare('SELECT json FROM blocks WHERE height = ?'),
      range: this.db.prepare('SELECT json FROM blocks WHERE height >= ? ORDER BY height LIMIT ?'),
      putSnapshot: this.db.prepare(
        'INSERT OR REPLACE INTO snapshot (id, height, head_hash, timestamp_ms, state) VALUES (1, ?, ?, ?, ?)',
      ),
      getSnapshot: this.db.prepare(
        'SELECT height, head_hash, timestamp_ms, state FROM snapshot WHERE id = 1',
      ),
      putPending: this.db.prepare('INSERT OR IGNORE INTO mempool (hash, json) VALUES (?, ?)'),
      delPending: this.db.prepare('DELETE FROM mempool WHERE hash = ?'),
      allPending: this.db.prepare('SELECT hash, json FROM mempool ORDER BY seq'),
    };
    // IMMEDIATE: take the write lock up front so the head check and insert are one atomic step.
    const append = this.db.transaction(
      (block: BlockJson, hash: string, snapshot: StateSnapshot | undefined, settled: readonly string[]) => {
        const head = this.stmts.head.get()?.h ?? 0;
        if (block.height !== head + 1)
          throw new LedgerError('store-conflict', `cannot append height ${block.height} after ${head}`);
        this.stmts.insert.run(block.height, hash, block.txs.length, JSON.stringify(block));
        if (snapshot)
          this.stmts.putSnapshot.run(
            snapshot.height,
            snapshot.headHash,
            snapshot.timestampMs,
            snapshot.state,
          );
        for (const h of settled) this.stmts.delPending.run(h);
      },
    );
    this.appendTx = (block, hash, snapshot, settled) => append.immediate(block, hash, snapshot, settled);
    const put = this.db.transaction((rows: readonly PendingTxRow[]) => {
      for (const r of rows) this.stmts.putPending.run(r.hash, r.json);
    });
    this.putPendingTx = (rows) => put.immediate(rows);
    const del = this.db.transaction((hashes: readonly string[]) => {
      for (const h of hashes) this.stmts.delPending.run(h);
    });
    this.delPendingTx = (hashes) => del.immediate(hashes);
  }

  private migrate(): void {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT',
    );
    const done = new Set(
      (this.db.prepare('SELECT version FROM migrations').all() as Array<{ version: number }>).map(
        (r) => r.version,
      ),
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO migrations (version, applied_at) VALUES (?, ?)')
          .run(m.version, Date.now());
      })();
    }
  }

  /** Versions of the applied migrations (for tests and diagnostics). */
  migrations(): number[] {
    return (
      this.db.prepare('SELECT version FROM migrations ORDER BY version').all() as Array<{ version: number }>
    ).map((r) => r.version);
  }

  private live(): void {
    if (!this.db.open) throw new LedgerError('store-closed', 'store is closed');
  }

  async loadGenesis(): Promise<GenesisConfig | undefined> {
    this.live();
    const row = this.stmts.getMeta.get('genesis');
    return row ? (JSON.parse(row.value) as GenesisConfig) : undefined;
  }

  async saveGenesis(genesis: GenesisConfig): Promise<void> {
    this.live();
    const text = canonicalJson(genesis);
    this.db
      .transaction(() => {
        const row = this.stmts.getMeta.get('genesis');
        if (row) {
          if (canonicalJson(JSON.parse(row.value)) !== text)
            throw new LedgerError('genesis-mismatch', 'store already holds a different genesis');
          return;
        }
        this.stmts.putMeta.run('genesis', text);
      })
      .immediate();
  }

  async headHeight(): Promise<number> {
    this.live();
    return this.stmts.head.get()?.h ?? 0;
  }

  async appendBlock(
    block: BlockJson,
    hash: string,
    snapshot?: StateSnapshot,
    settledTxHashes: readonly string[] = [],
  ): Promise<void> {
    this.live();
    this.appendTx(block, hash, snapshot, settledTxHashes);
  }

  async persistPending(rows: readonly PendingTxRow[]): Promise<void> {
    this.live();
    if (rows.length > 0) this.putPendingTx(rows);
  }

  async pendingTxs(): Promise<PendingTxRow[]> {
    this.live();
    return this.stmts.allPending.all();
  }

  async removePending(hashes: readonly string[]): Promise<void> {
    this.live();
    if (hashes.length > 0) this.delPendingTx(hashes);
  }

  async latestSnapshot(): Promise<StateSnapshot | undefined> {
    this.live();
    const row = this.stmts.getSnapshot.get();
    if (!row) return undefined;
    return {
      height: row.height,
      headHash: row.head_hash,
      timestampMs: row.timestamp_ms,
      state: new Uint8Array(row.state),
    };
  }

  async getBlock(height: number): Promise<BlockJson | undefined> {
    this.live();
    const row = this.stmts.get.get(height);
    return row ? (JSON.parse(row.json) as BlockJson) : undefined;
  }

  async blocksFrom(from: number, limit: number): Promise<BlockJson[]> {
    this.live();
    const n = Math.max(0, Math.floor(limit));
    if (n === 0) return [];
    return this.stmts.range.all(Math.max(1, Math.floor(from)), n).map((r) => JSON.parse(r.json) as BlockJson);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
