/**
 * Activity cutoff: a row of W counts in R (eq 5), in the sparsity/τ statistic
 * and so in inflation only while its owner set it within
 * genesis.activityCutoffBlocks blocks. Found on a running swarm: a noise peer
 * that never set weights kept its all-self row and out-ranked honest peers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BlockProducer,
  boundedRowToward,
  DEFAULT_ACTIVITY_CUTOFF_BLOCKS,
  defaultGenesis,
  LedgerState,
  LightClient,
  parseGenesis,
  replayChain,
  rowFromPairs,
  sparseRank,
} from '../src/index.js';
import { SqliteStore } from '../src/sqlite-store.js';
import { harness, producerIdentity, SCALE, setWeights } from './helpers.js';

/** Rows the test sets: 0 ↔ 1 weight each other, nobody names uid 2 unless asked. */
const ROW_0 = [
  [0, 850_000_000],
  [1, 150_000_000],
] as Array<[number, number]>;
const ROW_1 = [
  [0, 150_000_000],
  [1, 850_000_000],
] as Array<[number, number]>;

describe('activity cutoff', () => {
  it('a uid that registers and never sets weights gets only what others give it', async () => {
    const { producer, keys } = await harness(3);
    expect((await producer.submitTx(await setWeights(keys[0]!, 0, 1, ROW_0))).ok).toBe(true);
    expect((await producer.submitTx(await setWeights(keys[1]!, 1, 1, ROW_1))).ok).toBe(true);
    await producer.produceBlock();
    let s = producer.state();
    // uid 2 holds a faucet token and its all-self row, yet earns nothing.
    expect(s.stake[2]).toBe(1);
    expect(s.weights[2]).toEqual([[2, SCALE]]);
    expect(s.activeRows).toEqual([true, true, false]);
    expect(s.rank[2]).toBe(0);
    expect(s.rank[0]).toBeGreaterThan(0);
    expect(s.rank[1]).toBeGreaterThan(0);
    // Its first set-weights is still measured against the all-self row (ε bound):
    // a jump straight to uid 0 is rejected, a step within ε is accepted.
    expect(await producer.submitTx(await setWeights(keys[2]!, 2, 1, [[0, SCALE]]))).toMatchObject({
      ok: false,
      code: 'step-too-large',
    });
    // Now uid 0 gives uid 2 some weight: R_2 = s_0 · w_02 / n exactly.
    const row0 = [
      [0, 800_000_000],
      [1, 100_000_000],
      [2, 100_000_000],
    ] as Array<[number, number]>;
    expect((await producer.submitTx(await setWeights(keys[0]!, 0, 2, row0))).ok).toBe(true);
    const stakeBefore = producer.state().stake;
    await producer.produceBlock();
    s = producer.state();
    expect(s.rank[2]).toBe(stakeBefore[0]! * (100_000_000 / SCALE) * (1 / 3)); // sparseRank multiplies by 1/n
  });

  it('a noise uid that never sets weights ranks below peers that spread their rows', async () => {
    const { producer, keys } = await harness(4);
    for (let step = 1; step <= 4; step++) {
      const s = producer.state();
      for (let uid = 0; uid < 3; uid++) {
        const others = [0, 1, 2].filter((j) => j !== uid).map((j) => [j, 1] as [number, number]);
        const row = boundedRowToward(rowFromPairs(s.weights[uid]!), others, s.stepBoundL2);
        expect((await producer.submitTx(await setWeights(keys[uid]!, uid, step, row))).ok).toBe(true);
      }
      await producer.produceBlock();
    }
    const { rank } = producer.state();
    expect(rank[3]).toBe(0);
    for (let uid = 0; uid < 3; uid++) expect(rank[uid]!).toBeGreaterThan(rank[3]!);
  });

  it('a row stops counting after the cutoff and counts again once set; producer, light client and a reopened SQLite store agree', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-activity-'));
    try {
      const path = join(dir, 'chain.db');
      const h = await harness(3, {
        store: new SqliteStore(path),
        snapshotEveryBlocks: 2,
        genesis: { activityCutoffBlocks: 3 },
      });
      const { producer, keys } = h;
      expect((await producer.submitTx(await setWeights(keys[0]!, 0, 1, ROW_0, h.genesisHash))).ok).toBe(true);
      await producer.produceBlock(); // height 2: uid 0 sets its row
      const seen: Array<{ height: number; active: boolean; r1: number }> = [];
      for (let k = 0; k < 5; k++) {
        const s = producer.state();
        seen.push({ height: s.height, active: s.activeRows[0]!, r1: s.rank[1]! });
        await producer.produceBlock();
      }
      // Set at 2, cutoff 3: counts at 2, 3, 4, 5; stale from 6 on.
      expect(seen.map((x) => [x.height, x.active])).toEqual([
        [2, true],
        [3, true],
        [4, true],
        [5, true],
        [6, false],
      ]);
      expect(seen[3]!.r1).toBeGreaterThan(0);
      expect(seen[4]!.r1).toBe(0); // uid 1 is only named by uid 0's stale row
      const stale = producer.state(); // height 7
      expect(stale.rank).toEqual([0, 0, 0]);
      expect(stale.lastSetHeight).toEqual([2, 0, 0]);
      // The stake stopped growing with no active row.
      await producer.produceBlock();
      expect(producer.state().stake).toEqual(stale.stake);

      // Setting a row again (the same one) makes it count again.
      expect((await producer.submitTx(await setWeights(keys[0]!, 0, 2, ROW_0, h.genesisHash))).ok).toBe(true);
      await producer.produceBlock(); // height 9
      const back = producer.state();
      expect(back.height).toBe(9);
      expect(back.activeRows).toEqual([true, false, false]);
      expect(back.lastSetHeight).toEqual([9, 0, 0]);
      expect(back.rank[1]).toBeGreaterThan(0);

      // The light client replays the stored chain to the same root at every height.
      const client = new LightClient(h.genesis);
      for (const b of await h.store.blocksFrom(1, 100)) {
        await client.apply(b);
        expect(client.state.root()).toBe(b.stateRoot);
      }
      expect(client.state.view()).toEqual(back);
      expect(
        (await replayChain({ genesis: h.genesis, blocks: await h.store.blocksFrom(1, 100) })).stateRoot,
      ).toBe(back.stateRoot);
      await h.store.close();

      // Reopened from the snapshot at height 8 (which carries lastSetHeight) plus block 9.
      const store = new SqliteStore(path);
      const reopened = await BlockProducer.open({ store, identity: await producerIdentity() });
      expect(reopened.state()).toEqual(back);
      const snap = await store.latestSnapshot();
      expect(snap?.height).toBe(8);
      const decoded = LedgerState.decode(
        parseGenesis(h.genesis),
        snap!.state,
        snap!.headHash,
        snap!.timestampMs,
      );
      expect(decoded.lastSetHeight).toEqual([2, 0, 0]);
      await reopened.produceBlock();
      await client.apply((await store.getBlock(10))!);
      expect(client.state.root()).toBe(reopened.state().stateRoot);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the state root commits to lastSetHeight', async () => {
    const { producer } = await harness(2);
    const state = producer.ledgerState.clone();
    const root = state.root();
    state.lastSetHeight[1] = 1;
    // clone() shares the cached root; a changed field must change the encoding.
    expect(
      LedgerState.decode(state.genesis, state.encode(), state.headHash, state.timestampMs).root(),
    ).not.toBe(root);
  });

  it('genesis: absent cutoff means the default, bad values are refused', () => {
    const g = defaultGenesis('ab'.repeat(32));
    expect(g.activityCutoffBlocks).toBe(DEFAULT_ACTIVITY_CUTOFF_BLOCKS);
    const { activityCutoffBlocks: _, ...old } = g;
    expect(new LedgerState(parseGenesis(old)).view().activityCutoffBlocks).toBe(
      DEFAULT_ACTIVITY_CUTOFF_BLOCKS,
    );
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 32, '5'])
      expect(() => parseGenesis({ ...g, activityCutoffBlocks: bad })).toThrow(/invalid genesis/);
  });

  it('inactive rows are exactly zero rows of the dense W (R is what mechanism computes without them)', () => {
    const rows = [
      { uids: Uint32Array.of(0, 1), weights: Uint32Array.of(600_000_000, 400_000_000) },
      { uids: new Uint32Array(0), weights: new Uint32Array(0) },
    ];
    expect(Array.from(sparseRank(rows, Float64Array.of(2, 5)))).toEqual([(2 * 0.6) / 2, (2 * 0.4) / 2]);
  });
});
