/**
 * Writes test/fixtures/chain.json: a deterministic 20-block chain (fixed keys,
 * fixed clock, adaptive τ, a faucet cut-off, an activity cutoff of 4 blocks
 * with one uid that never sets weights and one that stops after block 8) with
 * the state root a replay must
 * reach. The browser e2e replays it in Chromium and compares the root.
 * Usage: tsx scripts/make-fixture.ts [out-path]
 */

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { identityFromSecretKey } from '@peerbench/protocol';
import {
  BlockProducer,
  boundedRowToward,
  createRegisterTx,
  createSetWeightsTx,
  defaultGenesis,
  MemoryStore,
  rowFromPairs,
} from '../src/index.js';

export const FIXTURE_BLOCKS = 20;

export async function makeFixtureChain() {
  const seed = (tag: number, i: number) => {
    const s = new Uint8Array(32).fill(i + 1);
    s[0] = tag;
    return s;
  };
  const producerId = await identityFromSecretKey(seed(90, 0));
  const genesis = defaultGenesis(producerId.peerId, {
    chainId: 'peerbench-fixture',
    timestampMs: 1_735_689_600_000,
    faucetRegistrations: 4,
    tau: { mode: 'adaptive', initial: 0, target: 0.6, gain: 0.3, min: 0, max: 1 },
    activityCutoffBlocks: 4,
  });
  let clock = genesis.timestampMs;
  const store = new MemoryStore();
  const producer = await BlockProducer.open({
    store,
    identity: producerId,
    genesis,
    now: () => (clock += 2000),
  });
  const keys = await Promise.all(Array.from({ length: 6 }, (_, i) => identityFromSecretKey(seed(91, i))));
  // Peers join over the first blocks so registration, faucet and weights interleave.
  for (let h = 1; h <= FIXTURE_BLOCKS; h++) {
    if (h <= 3)
      for (const k of keys.slice((h - 1) * 2, h * 2))
        await producer.submitTx(await createRegisterTx(k, producer.state().genesisHash));
    const state = producer.state();
    for (let uid = 0; uid < state.peers.length; uid++) {
      if ((uid + h) % 3 === 0) continue;
      // uid 3 never sets weights (its row never counts); uid 5 goes quiet after block 8 (stale from block 13).
      if (uid === 3 || (uid === 5 && h > 8)) continue;
      const key = keys.find((k) => k.peerId === state.peers[uid])!;
      const target = state.peers.map(
        (_, j) => [j, 1 + ((j * 5 + uid * 3 + h) % 7) + (j === uid ? 4 : 0)] as [number, number],
      );
      const row = boundedRowToward(rowFromPairs(state.weights[uid]!), target, state.stepBoundL2, 4);
      const r = await producer.submitTx(
        await createSetWeightsTx(key, uid, state.nonces[uid]! + 1, row, state.genesisHash),
      );
      if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
    }
    await producer.produceBlock();
  }
  const blocks = await store.blocksFrom(1, FIXTURE_BLOCKS);
  const view = producer.state();
  return {
    description:
      'Deterministic ledger chain; replayChain({ genesis, blocks }) must reach expected.stateRoot in every engine.',
    genesis,
    blocks,
    expected: {
      height: view.height,
      stateRoot: view.stateRoot,
      headHash: view.headHash,
      stake: view.stake,
      rank: view.rank,
      tau: view.tau,
      lastSetHeight: view.lastSetHeight,
      activeRows: view.activeRows,
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '../test/fixtures/chain.json');
  const chain = await makeFixtureChain();
  writeFileSync(out, `${JSON.stringify(chain, null, 2)}\n`);
  // Keep the committed file in the repo's formatting so `biome check` stays clean.
  spawnSync('npx', ['biome', 'format', '--write', out], { stdio: 'ignore' });
  process.stderr.write(`wrote ${out}: ${chain.blocks.length} blocks, root ${chain.expected.stateRoot}\n`);
}
