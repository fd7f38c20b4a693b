import { describe, expect, it } from 'vitest';
import {
  BlockPartAssembler,
  type BlockPartJson,
  isBlockPart,
  LightClient,
  RemoteChain,
  splitBlock,
} from '../src/index.js';
import { harness, setWeights } from './helpers.js';

/** Block 2 of a chain where 40 peers each set a 16-entry row (~40 KB of txs). */
async function bigChain() {
  const h = await harness(40);
  for (let uid = 0; uid < 40; uid++) {
    // 0.85 stays on the own uid (within ε of the all-self row), 0.01 each to 15 others.
    const pairs: Array<[number, number]> = [[uid, 850_000_000]];
    for (let k = 1; k <= 15; k++) pairs.push([(uid + k) % 40, 10_000_000]);
    pairs.sort((x, y) => x[0] - y[0]);
    expect((await h.producer.submitTx(await setWeights(h.keys[uid]!, uid, 1, pairs))).ok).toBe(true);
  }
  await h.producer.produceBlock();
  const blocks = await h.store.blocksFrom(1, 10);
  return { ...h, blocks };
}

describe('block parts', () => {
  it('splits within the budget, only the last part names the height, and reassembles to the same block', async () => {
    const { blocks } = await bigChain();
    const b2 = blocks[1]!;
    const parts = splitBlock(b2, 4 * 1024)!;
    expect(parts.length).toBeGreaterThan(3);
    for (const p of parts)
      expect(new TextEncoder().encode(JSON.stringify(p)).length).toBeLessThanOrEqual(4 * 1024);
    expect(parts.map((p) => p.height)).toEqual([...parts.slice(0, -1).map(() => undefined), 2]);
    expect(parts.every(isBlockPart)).toBe(true);
    const asm = new BlockPartAssembler();
    const results = parts.map((p) => asm.add(p));
    expect(results.slice(0, -1).every((r) => r === undefined)).toBe(true);
    expect(results.at(-1)).toEqual(b2);
    expect(asm.blocksInAssembly).toBe(0);
    // A budget below one tx cannot be met.
    expect(splitBlock(b2, 900)).toBeUndefined();
  });

  it('a RemoteChain reassembles parts delivered out of order, duplicated and interleaved, and rejects a tampered part', async () => {
    const { blocks, genesis, producer } = await bigChain();
    const b1Parts = splitBlock(blocks[0]!, 4 * 1024)!;
    const b2Parts = splitBlock(blocks[1]!, 4 * 1024)!;
    let deliver: (b: unknown) => void = () => {};
    const invalid: string[] = [];
    const chain = new RemoteChain({
      genesis,
      transport: {
        sendTx: async () => ({ ok: true }),
        subscribe: (_from, cb) => {
          deliver = cb;
          return () => {};
        },
      },
      onInvalidBlock: (e) => invalid.push(e.code),
    });
    chain.start();
    // Block 2's parts first (reversed, one twice), block 1's interleaved with them.
    const mixed: BlockPartJson[] = [];
    const rev = [...b2Parts].reverse();
    for (let i = 0; i < Math.max(rev.length, b1Parts.length); i++) {
      if (rev[i]) mixed.push(rev[i]!);
      if (b1Parts[i]) mixed.push(b1Parts[i]!);
    }
    mixed.splice(2, 0, rev[0]!);
    for (const p of mixed) deliver(structuredClone(p));
    await chain.idle();
    expect(invalid).toEqual([]);
    expect(chain.height).toBe(2);
    expect(chain.state().stateRoot).toBe(producer.state().stateRoot);

    // A tampered tx in one part: the reassembled block fails verification.
    const client = new LightClient(genesis);
    await client.apply(blocks[0]!);
    const parts = structuredClone(b2Parts);
    const tx = parts[1]!.txs[0] as { nonce: number };
    tx.nonce += 1;
    const asm = new BlockPartAssembler();
    let whole: unknown;
    for (const p of parts) whole = asm.add(p) ?? whole;
    await expect(client.apply(whole)).rejects.toMatchObject({ code: 'bad-tx-root' });
  });

  it('the assembler ignores junk and keeps at most a few incomplete blocks', async () => {
    const { blocks } = await bigChain();
    const asm = new BlockPartAssembler(2);
    for (const junk of [
      null,
      1,
      {},
      { blockPart: {} },
      { blockPart: { height: 1, signature: 'x', index: 0, count: 1 } },
    ])
      expect(asm.add(junk)).toBeUndefined();
    const parts = splitBlock(blocks[1]!, 4 * 1024)!;
    // index ≥ count is refused
    expect(
      asm.add({ ...parts[0]!, blockPart: { ...parts[0]!.blockPart, index: parts.length } }),
    ).toBeUndefined();
    for (let h = 0; h < 5; h++)
      asm.add({ ...parts[0]!, blockPart: { ...parts[0]!.blockPart, height: 100 + h } });
    expect(asm.blocksInAssembly).toBe(2);
  });
});
