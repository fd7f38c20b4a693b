import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlockProducer, GroupCommit, type PendingTxRow } from '../src/index.js';
import { SqliteStore } from '../src/sqlite-store.js';
import { harness, producerIdentity, SCALE, setWeights } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ledger-durable-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const step = (uid: number, other: number, share: number): Array<[number, number]> =>
  [
    [uid, (1 - share) * SCALE],
    [other, share * SCALE],
  ].sort((a, b) => a[0]! - b[0]!) as Array<[number, number]>;

describe('GroupCommit', () => {
  it('writes everything added in one turn with one write, in order, and fails a whole batch together', async () => {
    const writes: number[][] = [];
    let fail = false;
    const gc = new GroupCommit<number>(async (items) => {
      writes.push(items);
      if (fail) throw new Error('disk full');
    });
    const first = Array.from({ length: 100 }, (_, i) => gc.add(i));
    await Promise.all(first);
    expect(writes).toEqual([Array.from({ length: 100 }, (_, i) => i)]);
    fail = true;
    const second = [gc.add(100), gc.add(101)];
    for (const p of second) await expect(p).rejects.toThrow('disk full');
    expect(writes[1]).toEqual([100, 101]);
    await gc.idle();
  });

  it('with a window, items added over several event-loop turns share one write', async () => {
    const writes: number[][] = [];
    const gc = new GroupCommit<number>(async (items) => {
      writes.push(items);
    }, 20);
    const a = gc.add(1);
    // The next turn's check phase always runs before the window's timer can fire.
    await new Promise((r) => setImmediate(r));
    const b = gc.add(2);
    await Promise.all([a, b]);
    expect(writes).toEqual([[1, 2]]);
  });
});

describe('durable mempool ("ok means on disk") on SQLite', () => {
  it('an acknowledged tx is in the stored mempool when submitTx answers, and leaves it with its block', async () => {
    const h = await harness(3, { store: new SqliteStore(join(dir, 'ack.db')) });
    const store = h.store as SqliteStore;
    const tx = await setWeights(h.keys[0]!, 0, 1, step(0, 1, 0.1));
    const r = await h.producer.submitTx(tx);
    expect(r).toEqual({ ok: true, hash: expect.any(String) });
    expect((await store.pendingTxs()).map((p) => p.hash)).toEqual([r.ok && r.hash]);
    const { block } = await h.producer.produceBlock();
    expect(block.txs).toHaveLength(1);
    expect(await store.pendingTxs()).toEqual([]);
    await h.producer.stop();
    await store.close();
  });

  it('re-admits stored txs on open (the producer died before a block), and drops those that no longer apply', async () => {
    const path = join(dir, 'restart.db');
    const h = await harness(3, { store: new SqliteStore(path) });
    const included = await setWeights(h.keys[2]!, 2, 1, step(2, 0, 0.1));
    expect((await h.producer.submitTx(included)).ok).toBe(true);
    await h.producer.produceBlock();
    const acked: string[] = [];
    for (const [uid, other] of [
      [0, 1],
      [1, 2],
    ] as const) {
      const r = await h.producer.submitTx(await setWeights(h.keys[uid]!, uid, 1, step(uid, other, 0.1)));
      if (!r.ok) throw new Error(r.code);
      acked.push(r.hash);
    }
    // A stale row (a tx already in a block) as a crash between two writes could never leave, but a
    // hand-edited or older file could: it must be dropped, not re-included.
    const stale: PendingTxRow = { hash: 'f'.repeat(64), json: JSON.stringify(included) };
    await (h.store as SqliteStore).persistPending([stale]);
    // "Crash": the process goes away without stop() or another block.
    await h.store.close();

    const store = new SqliteStore(path);
    const producer = await BlockProducer.open({ store, identity: await producerIdentity() });
    expect(producer.recovery).toEqual({ restored: 2, dropped: 1 });
    expect(producer.mempoolSize).toBe(2);
    expect((await store.pendingTxs()).map((p) => p.hash)).toEqual(acked);
    const { block } = await producer.produceBlock();
    expect(block.txs).toHaveLength(2);
    expect(await store.pendingTxs()).toEqual([]);
    await producer.stop();
    await store.close();
  });

  it('answers a coded failure and keeps nothing when the tx cannot be stored', async () => {
    const h = await harness(2, { store: new SqliteStore(join(dir, 'fail.db')) });
    const store = h.store as SqliteStore;
    const original = store.persistPending.bind(store);
    store.persistPending = async () => {
      throw new Error('disk I/O error');
    };
    const tx = await setWeights(h.keys[0]!, 0, 1, step(0, 1, 0.1));
    const r = await h.producer.submitTx(tx);
    expect(r).toMatchObject({ ok: false, code: 'mempool-full' });
    expect(h.producer.mempoolSize).toBe(0);
    store.persistPending = original;
    // Nothing was reserved: the same tx (same nonce) is admitted once the disk works.
    expect((await h.producer.submitTx(tx)).ok).toBe(true);
    expect(await store.pendingTxs()).toHaveLength(1);
    await h.producer.stop();
    await store.close();
  });
});
