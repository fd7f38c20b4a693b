import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type BlockJson,
  defaultGenesis,
  isLedgerError,
  type LedgerStore,
  MemoryStore,
} from '../src/index.js';
import { SqliteStore } from '../src/sqlite-store.js';
import { harness } from './helpers.js';

interface Impl {
  name: string;
  /** A fresh store; `reopen` gives a store over the same data (new handle for SQLite, same object for memory). */
  create(): Promise<{ store: LedgerStore; reopen(): Promise<LedgerStore> }>;
}

const dir = mkdtempSync(join(tmpdir(), 'ledger-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const impls: Impl[] = [
  {
    name: 'MemoryStore',
    async create() {
      const store = new MemoryStore();
      return { store, reopen: async () => store };
    },
  },
  {
    name: 'SqliteStore',
    async create() {
      const path = join(dir, `s${files++}.db`);
      return {
        store: new SqliteStore(path),
        reopen: async () => new SqliteStore(path),
      };
    },
  },
];

/** Real blocks from a producer, so stores are tested on what they will hold. */
async function sampleBlocks(count: number): Promise<Array<{ block: BlockJson; hash: string }>> {
  const h = await harness(3);
  const out = [{ block: h.producer.head()!, hash: h.producer.state().headHash }];
  while (out.length < count) {
    const p = await h.producer.produceBlock();
    out.push({ block: p.block, hash: p.hash });
  }
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (!isLedgerError(e)) throw e;
    return e.code;
  }
}

for (const impl of impls) {
  describe(`LedgerStore compliance: ${impl.name}`, () => {
    it('starts empty and keeps exactly one genesis', async () => {
      const { store } = await impl.create();
      expect(await store.headHeight()).toBe(0);
      expect(await store.loadGenesis()).toBeUndefined();
      const g = defaultGenesis('a'.repeat(64));
      await store.saveGenesis(g);
      await store.saveGenesis({ ...g }); // same genesis again is fine
      expect(await store.loadGenesis()).toEqual(g);
      expect(await codeOf(store.saveGenesis({ ...g, chainId: 'other' }))).toBe('genesis-mismatch');
      await store.close();
    });

    it('appends blocks only in sequence and reads them back by height and by range', async () => {
      const { store } = await impl.create();
      const blocks = await sampleBlocks(5);
      expect(await codeOf(store.appendBlock(blocks[1]!.block, blocks[1]!.hash))).toBe('store-conflict');
      for (const b of blocks) await store.appendBlock(b.block, b.hash);
      expect(await store.headHeight()).toBe(5);
      expect(await codeOf(store.appendBlock(blocks[2]!.block, blocks[2]!.hash))).toBe('store-conflict');
      expect(await store.headHeight()).toBe(5);
      expect(await store.getBlock(3)).toEqual(blocks[2]!.block);
      expect(await store.getBlock(0)).toBeUndefined();
      expect(await store.getBlock(6)).toBeUndefined();
      expect((await store.blocksFrom(2, 2)).map((b) => b.height)).toEqual([2, 3]);
      expect((await store.blocksFrom(4, 100)).map((b) => b.height)).toEqual([4, 5]);
      expect((await store.blocksFrom(0, 1)).map((b) => b.height)).toEqual([1]);
      expect(await store.blocksFrom(9, 10)).toEqual([]);
      expect(await store.blocksFrom(1, 0)).toEqual([]);
      await store.close();
    });

    it('returns copies: mutating a returned block does not change the store', async () => {
      const { store } = await impl.create();
      const [b] = await sampleBlocks(1);
      await store.appendBlock(b!.block, b!.hash);
      const got = (await store.getBlock(1))!;
      got.stateRoot = 'f'.repeat(64);
      expect((await store.getBlock(1))!.stateRoot).toBe(b!.block.stateRoot);
      await store.close();
    });

    it('stores the latest snapshot atomically with its block, and only then', async () => {
      const { store, reopen } = await impl.create();
      const blocks = await sampleBlocks(3);
      expect(await store.latestSnapshot()).toBeUndefined();
      const snap = (h: number) => ({
        height: h,
        headHash: blocks[h - 1]!.hash,
        timestampMs: h,
        state: Uint8Array.of(h, 1, 2),
      });
      await store.appendBlock(blocks[0]!.block, blocks[0]!.hash, snap(1));
      // A rejected append must not leave its snapshot behind.
      expect(await codeOf(store.appendBlock(blocks[2]!.block, blocks[2]!.hash, snap(3)))).toBe(
        'store-conflict',
      );
      expect(await store.latestSnapshot()).toEqual(snap(1));
      await store.appendBlock(blocks[1]!.block, blocks[1]!.hash);
      await store.appendBlock(blocks[2]!.block, blocks[2]!.hash, snap(3));
      const got = (await store.latestSnapshot())!;
      expect(got).toEqual(snap(3));
      got.state[0] = 99;
      expect((await store.latestSnapshot())!.state[0]).toBe(3);
      if (impl.name !== 'MemoryStore') await store.close();
      const again = await reopen();
      expect(await again.latestSnapshot()).toEqual(snap(3));
      await again.close();
    });

    it('keeps blocks and genesis across reopen', async () => {
      const { store, reopen } = await impl.create();
      const g = defaultGenesis('b'.repeat(64));
      await store.saveGenesis(g);
      const blocks = await sampleBlocks(3);
      for (const b of blocks) await store.appendBlock(b.block, b.hash);
      if (impl.name !== 'MemoryStore') await store.close();
      const again = await reopen();
      expect(await again.loadGenesis()).toEqual(g);
      expect(await again.headHeight()).toBe(3);
      expect(await again.getBlock(2)).toEqual(blocks[1]!.block);
      await again.close();
      expect(await codeOf(again.headHeight())).toBe('store-closed');
    });
  });
}

describe('SqliteStore specifics', () => {
  it('uses WAL and records its migrations once', async () => {
    const path = join(dir, 'wal.db');
    const a = new SqliteStore(path);
    expect(a.migrations()).toEqual([1, 2, 3]);
    await a.close();
    const b = new SqliteStore(path);
    expect(b.migrations()).toEqual([1, 2, 3]);
    await b.close();
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });
});
