import { describe, expect, it } from 'vitest';
import {
  type BlockJson,
  isLedgerError,
  LightClient,
  parseTx,
  signBlock,
  type TxJson,
  txRoot,
} from '../src/index.js';
import { harness, identities, producerIdentity, SCALE, setWeights } from './helpers.js';

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (!isLedgerError(e)) throw e;
    return e.code;
  }
}

/** A chain of 4 blocks with txs, plus its genesis. */
async function chain() {
  const h = await harness(3);
  const [a, b] = h.keys;
  await h.producer.submitTx(
    await setWeights(a!, 0, 1, [
      [0, 0.85 * SCALE],
      [1, 0.15 * SCALE],
    ]),
  );
  await h.producer.produceBlock();
  await h.producer.submitTx(
    await setWeights(b!, 1, 1, [
      [0, 0.1 * SCALE],
      [1, 0.9 * SCALE],
    ]),
  );
  await h.producer.produceBlock();
  await h.producer.produceBlock();
  const blocks = await h.store.blocksFrom(1, 10);
  return { ...h, blocks };
}

/** Re-signs a header with the real producer key (so only the deeper checks can catch the tampering). */
async function resign(block: BlockJson, txs: TxJson[] = block.txs, root?: string): Promise<BlockJson> {
  const parsed = txs.map((t) => parseTx(t));
  const signed = await signBlock(
    await producerIdentity(),
    {
      height: block.height,
      parentHash: block.parentHash,
      timestampMs: block.timestampMs,
      txRoot: root ?? txRoot(parsed.map((t) => t.hash)),
      stateRoot: block.stateRoot,
    },
    parsed,
  );
  return signed.json;
}

describe('LightClient', () => {
  it('verifies an honest chain and reaches the producer state root', async () => {
    const { blocks, genesis, producer } = await chain();
    const client = new LightClient(genesis);
    for (const b of blocks) await client.apply(b);
    expect(client.height).toBe(4);
    expect(client.state.root()).toBe(producer.state().stateRoot);
    expect(client.state.view()).toEqual(producer.state());
  });

  it('rejects forged, reordered and tampered blocks with clear codes, leaving its state untouched', async () => {
    const { blocks, genesis } = await chain();
    const client = new LightClient(genesis);
    await client.apply(blocks[0]);
    const root = client.state.root();
    const b2 = blocks[1]!;
    const [mallory] = await identities(1, 66);

    // Reordered: block 3 before block 2.
    expect(await codeOf(client.apply(blocks[2]))).toBe('bad-height');
    // Replayed: block 1 again.
    expect(await codeOf(client.apply(blocks[0]))).toBe('bad-height');
    // Wrong parent.
    expect(await codeOf(client.apply(await resign({ ...b2, parentHash: 'e'.repeat(64) })))).toBe(
      'bad-parent',
    );
    // Time going backwards.
    expect(await codeOf(client.apply(await resign({ ...b2, timestampMs: 5 })))).toBe('bad-timestamp');
    // Forged: signed by someone else, or the signature bytes altered, or another producer key.
    const forged = await signBlock(
      mallory!,
      {
        height: 2,
        parentHash: b2.parentHash,
        timestampMs: b2.timestampMs,
        txRoot: b2.txRoot,
        stateRoot: b2.stateRoot,
      },
      b2.txs.map((t) => parseTx(t)),
    );
    expect(await codeOf(client.apply(forged.json))).toBe('bad-producer-signature');
    const flipped = `${b2.signature[0] === 'a' ? 'b' : 'a'}${b2.signature.slice(1)}`;
    expect(await codeOf(client.apply({ ...b2, signature: flipped }))).toBe('bad-producer-signature');
    // Unsigned edit of the state root.
    expect(await codeOf(client.apply({ ...b2, stateRoot: '0'.repeat(64) }))).toBe('bad-producer-signature');
    // Dropping a tx changes the count the header commits to.
    expect(await codeOf(client.apply({ ...b2, txs: [] }))).toBe('bad-producer-signature');
    // Same count, different tx under the signed header: the tx root no longer matches.
    const other = await setWeights((await identities(2))[1]!, 1, 1, [
      [0, 0.2 * SCALE],
      [1, 0.8 * SCALE],
    ]);
    expect(await codeOf(client.apply({ ...b2, txs: [other] }))).toBe('bad-tx-root');
    // Producer-signed lie about the resulting state.
    expect(await codeOf(client.apply(await resign({ ...b2, stateRoot: '1'.repeat(64) })))).toBe(
      'bad-state-root',
    );
    // Producer-signed block carrying a tx with a bad signature.
    const tx = b2.txs[0]! as Extract<TxJson, { type: 'set-weights' }>;
    const badSig = { ...tx, signature: `${tx.signature.slice(0, -2)}00` };
    expect(await codeOf(client.apply(await resign(b2, [badSig])))).toBe('bad-tx');
    // Producer-signed block with two steps that each stay within ε of the previous row but not of the block-start row.
    const key = (await identities(1))[0]!;
    const s1 = await setWeights(key, 0, 5, [
      [0, 0.7 * SCALE],
      [1, 0.3 * SCALE],
    ]);
    const s2 = await setWeights(key, 0, 6, [
      [0, 0.55 * SCALE],
      [1, 0.45 * SCALE],
    ]);
    await client.apply(b2);
    const b3 = blocks[2]!;
    const r = client.apply(await resign(b3, [s1, s2]));
    await expect(r).rejects.toMatchObject({ code: 'bad-tx' });
    await expect(r).rejects.toThrow(/step-too-large/);
    // Malformed JSON shapes.
    expect(await codeOf(client.apply({ height: 'x' }))).toBe('malformed-block');
    expect(await codeOf(client.apply({ ...b3, txs: [{ type: 'nope' }] }))).toBe('bad-tx');

    expect(client.height).toBe(2);
    // After all that, the honest chain still applies.
    await client.apply(b3);
    await client.apply(blocks[3]);
    expect(client.height).toBe(4);
    expect(root).not.toBe(client.state.root());
  });
});
