import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '@peerbench/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BlockProducer,
  boundedRowToward,
  createRegisterTx,
  createSetWeightsTx,
  LightClient,
  MAX_ROW_ENTRIES,
  MemoryStore,
  rowFromPairs,
  TX_ERROR_CODES,
} from '../src/index.js';
import { SqliteStore } from '../src/sqlite-store.js';
import { harness, identities, producerIdentity, SCALE, setWeights } from './helpers.js';

describe('BlockProducer admission: every bad tx is rejected with its code and changes nothing', () => {
  it('hand-written bad txs', async () => {
    const { producer, keys } = await harness(3);
    const [a, b] = keys as [(typeof keys)[0], (typeof keys)[0]];
    // A valid first step so nonce 1 is used and the row is not the default.
    const good = await setWeights(a!, 0, 1, [
      [0, 0.9 * SCALE],
      [1, 0.1 * SCALE],
    ]);
    expect(await producer.submitTx(good)).toMatchObject({ ok: true });
    await producer.produceBlock();
    const rootBefore = producer.state().stateRoot;
    const heightBefore = producer.height;

    const cases: Array<[string, unknown]> = [
      // signed by b but claims uid 0
      [
        'bad-signature',
        await createSetWeightsTx(
          b!,
          0,
          2,
          [
            [0, 0.9 * SCALE],
            [1, 0.1 * SCALE],
          ],
          producer.state().genesisHash,
        ),
      ],
      // a's own valid step, but signed for another chain
      [
        'wrong-chain',
        await setWeights(
          a!,
          0,
          2,
          [
            [0, 0.9 * SCALE],
            [1, 0.1 * SCALE],
          ],
          'ab'.repeat(32),
        ),
      ],
      [
        'bad-signature',
        {
          ...(await createRegisterTx((await identities(1, 99))[0]!, producer.state().genesisHash)),
          signature: 'ab'.repeat(64),
        },
      ],
      ['replayed-nonce', good],
      [
        'replayed-nonce',
        await setWeights(a!, 0, 1, [
          [0, 0.85 * SCALE],
          [1, 0.15 * SCALE],
        ]),
      ],
      ['unknown-uid', await setWeights(a!, 7, 1, [[7, SCALE]])],
      [
        'unknown-uid',
        await setWeights(a!, 0, 2, [
          [0, 0.9 * SCALE],
          [5, 0.1 * SCALE],
        ]),
      ],
      [
        'not-on-simplex',
        await setWeights(a!, 0, 2, [
          [0, 0.9 * SCALE],
          [1, 0.2 * SCALE],
        ]),
      ],
      ['bad-weight', { ...good, nonce: 2, weights: [[0, Number.NaN]] }],
      ['bad-weight', { ...good, nonce: 2, weights: [[0, -1]] }],
      [
        'too-many-entries',
        await setWeights(
          a!,
          0,
          2,
          Array.from({ length: MAX_ROW_ENTRIES + 1 }, (_, k) => [k, k === 0 ? SCALE : 0] as [number, number]),
        ),
      ],
      ['step-too-large', await setWeights(a!, 0, 2, [[2, SCALE]])],
      ['too-large', { ...good, memo: 'x'.repeat(5000) }],
      ['duplicate-key', await createRegisterTx(a!, producer.state().genesisHash)],
      ['malformed', { type: 'set-weights' }],
      ['malformed', 42],
    ];
    for (const [code, tx] of cases) {
      const r = await producer.submitTx(tx);
      expect(r, `${code}: ${JSON.stringify(r)}`).toMatchObject({ ok: false, code });
    }
    const step = (await producer.submitTx(await setWeights(a!, 0, 2, [[2, SCALE]]))) as { message: string };
    expect(step.message).toMatch(/‖ΔW_0‖₂ = 1\.349\d+ exceeds ε = 0\.25; rejected, not clipped/);
    expect(producer.mempoolSize).toBe(0);
    await producer.produceBlock();
    expect(producer.height).toBe(heightBefore + 1);
    const after = producer.state();
    expect(after.nonces).toEqual([1, 0, 0]);
    expect(after.weights[0]).toEqual([
      [0, 0.9 * SCALE],
      [1, 0.1 * SCALE],
    ]);
    expect(after.peers).toHaveLength(3);
    // Only the block's inflation changed the state: same rows, nonces, registry.
    expect(after.stateRoot).not.toBe(rootBefore);
  });

  it('fuzz: mutated valid txs are either still valid or rejected with a documented code; rejects change nothing', async () => {
    const { producer, keys } = await harness(2);
    const base = await setWeights(keys[0]!, 0, 5, [
      [0, 0.8 * SCALE],
      [1, 0.2 * SCALE],
    ]);
    const baseline = producer.state().stateRoot;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('uid', 'nonce', 'weights', 'signature', 'type', 'extra'),
        fc.anything(),
        async (field, value) => {
          const tx = { ...base, [field]: value } as Record<string, unknown>;
          const r = await producer.submitTx(tx);
          if (!r.ok) expect(TX_ERROR_CODES).toContain(r.code);
          expect(producer.state().stateRoot).toBe(baseline);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('bounds the mempool and the pending txs per uid; nonces must increase while pending', async () => {
    const { producer, keys } = await harness(3, { maxMempoolTxs: 5, maxPendingPerUid: 2 });
    const row = (k: number): Array<[number, number]> => [
      [0, SCALE - k * 1000],
      [1, k * 1000],
    ];
    expect((await producer.submitTx(await setWeights(keys[0]!, 0, 1, row(1)))).ok).toBe(true);
    expect(await producer.submitTx(await setWeights(keys[0]!, 0, 1, row(2)))).toMatchObject({
      code: 'replayed-nonce',
    });
    expect((await producer.submitTx(await setWeights(keys[0]!, 0, 3, row(3)))).ok).toBe(true);
    expect(await producer.submitTx(await setWeights(keys[0]!, 0, 4, row(4)))).toMatchObject({
      code: 'too-many-pending',
    });
    const extra = await identities(4, 42);
    for (const k of extra.slice(0, 3))
      expect((await producer.submitTx(await createRegisterTx(k, producer.state().genesisHash))).ok).toBe(
        true,
      );
    expect(
      await producer.submitTx(await createRegisterTx(extra[3]!, producer.state().genesisHash)),
    ).toMatchObject({
      code: 'mempool-full',
    });
    const { block } = await producer.produceBlock();
    expect(block.txs).toHaveLength(5);
    expect(producer.state().nonces[0]).toBe(3);
    expect(producer.state().peers).toHaveLength(6);
    expect(producer.mempoolSize).toBe(0);
  });

  it('admits several steps of one uid per block when each stays within ε of the block-start row', async () => {
    const { producer, keys } = await harness(3);
    const s1 = await setWeights(keys[0]!, 0, 1, [
      [0, 0.85 * SCALE],
      [1, 0.15 * SCALE],
    ]);
    const s2 = await setWeights(keys[0]!, 0, 2, [
      [0, 0.8 * SCALE],
      [1, 0.1 * SCALE],
      [2, 0.1 * SCALE],
    ]);
    expect((await producer.submitTx(s1)).ok).toBe(true);
    expect((await producer.submitTx(s2)).ok).toBe(true);
    const { block } = await producer.produceBlock();
    expect(block.txs).toHaveLength(2);
    expect(producer.state().weights[0]).toEqual(s2.weights);
    // A step that is within ε of the pending row but not of the committed one is refused at admission.
    const far = await setWeights(keys[0]!, 0, 3, [
      [0, 0.6 * SCALE],
      [1, 0.2 * SCALE],
      [2, 0.2 * SCALE],
    ]);
    expect((await producer.submitTx(far)).ok).toBe(true); // 0.245 from the new committed row
  });

  it('registers keys in order, gives faucet stake, applies Algorithm 1 every block', async () => {
    const { producer, keys } = await harness(3, {
      genesis: { faucetRegistrations: 2, registrationStake: 1 },
    });
    const s = producer.state();
    expect(s.weights).toEqual([[[0, SCALE]], [[1, SCALE]], [[2, SCALE]]]);
    // uid 2 missed the faucet. Nobody has set weights yet, so no row is active:
    // R = 0 and inflation pays nothing (the all-self rows are only ε references).
    expect(s.stake).toEqual([1, 1, 0]);
    expect(s.rank).toEqual([0, 0, 0]);
    expect(s.activeRows).toEqual([false, false, false]);
    expect(s.lastSetHeight).toEqual([0, 0, 0]);
    // Once uid 0 sets a row (0.85 to itself, 0.15 to uid 1), only that row counts.
    expect(
      (
        await producer.submitTx(
          await setWeights(
            keys[0]!,
            0,
            1,
            [
              [0, 850_000_000],
              [1, 150_000_000],
            ],
            producer.state().genesisHash,
          ),
        )
      ).ok,
    ).toBe(true);
    await producer.produceBlock();
    const t = producer.state();
    expect(t.activeRows).toEqual([true, false, false]);
    expect(t.lastSetHeight).toEqual([2, 0, 0]);
    expect(Array.from(t.rank)).toEqual([0.85 / 3, 0.15 / 3, 0]);
    const norm = Math.hypot(0.85 / 3, 0.15 / 3);
    expect(t.stake[0]).toBeCloseTo(1 + (0.1 * (0.85 / 3)) / norm, 12);
    expect(t.stake[2]).toBe(0);
  });

  it('restarts from the latest snapshot, and falls back to a full replay when the snapshot is corrupt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-snap-'));
    try {
      const path = join(dir, 'chain.db');
      const h = await harness(3, { store: new SqliteStore(path), snapshotEveryBlocks: 3 });
      for (let n = 1; n <= 6; n++) {
        const s = h.producer.state();
        const uid = n % 3;
        const row = boundedRowToward(rowFromPairs(s.weights[uid]!), [[(uid + 1) % 3, 1]], s.stepBoundL2);
        expect((await h.producer.submitTx(await setWeights(h.keys[uid]!, uid, n, row))).ok).toBe(true);
        await h.producer.produceBlock();
      }
      const root = h.producer.state().stateRoot;
      expect(h.producer.height).toBe(7);
      await h.store.close();

      const reopen = async () => {
        const store = new SqliteStore(path);
        const froms: number[] = [];
        const spy = Object.assign(Object.create(store), {
          blocksFrom: (from: number, limit: number) => {
            froms.push(from);
            return store.blocksFrom(from, limit);
          },
        }) as SqliteStore;
        const producer = await BlockProducer.open({ store: spy, identity: await producerIdentity() });
        return { producer, froms, store };
      };
      const a = await reopen();
      expect(a.froms).toEqual([7]); // snapshot at 6: only block 7 replayed
      expect(a.producer.state().stateRoot).toBe(root);
      expect(a.producer.state().weights).toEqual(h.producer.state().weights);
      await a.store.close();

      const Database = (await import('better-sqlite3')).default;
      const db = new Database(path);
      db.prepare('UPDATE snapshot SET state = ?').run(Buffer.from([1, 2, 3]));
      db.close();
      const b = await reopen();
      expect(b.froms).toEqual([1]); // corrupt snapshot ignored: full replay from genesis
      expect(b.producer.state().stateRoot).toBe(root);
      await b.producer.produceBlock();
      expect(b.producer.height).toBe(8);
      await b.store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to open a store whose genesis names another producer', async () => {
    const { store, genesis } = await harness(1);
    const [other] = await identities(1, 3);
    await expect(BlockProducer.open({ store, identity: other!, genesis })).rejects.toMatchObject({
      code: 'genesis-mismatch',
    });
    await expect(BlockProducer.open({ store: new MemoryStore(), identity: other! })).rejects.toMatchObject({
      code: 'genesis-mismatch',
    });
  });

  it('produces on its timer, persists before announcing, and stops cleanly', async () => {
    const { producer, store } = await harness(1, { blockIntervalMs: 5 });
    const seen: number[] = [];
    producer.onBlock(async ({ block }) => {
      // Announced blocks are already in the store.
      seen.push(block.height);
      expect((await store.getBlock(block.height))?.stateRoot).toBe(block.stateRoot);
    });
    producer.start();
    await new Promise<void>((resolve) => {
      const off = producer.onBlock(({ block }) => {
        if (block.height >= 5) {
          off();
          resolve();
        }
      });
    });
    await producer.stop();
    const h = producer.height;
    // This check is about time passing: a stopped producer must make no block when its interval elapses,
    // so wait several block intervals (5 ms each) of real time and see the height stay.
    await new Promise((r) => setTimeout(r, 6 * 5));
    expect(producer.height).toBe(h);
    expect(seen.slice(0, 4)).toEqual([2, 3, 4, 5]);
    const client = new LightClient(producer.genesis);
    for (const b of await store.blocksFrom(1, 100)) await client.apply(b);
    expect(client.state.root()).toBe(producer.state().stateRoot);
    expect(toHex(new Uint8Array(0))).toBe('');
  });
});
