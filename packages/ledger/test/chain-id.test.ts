/**
 * Replay protection across chains: every tx carries and signs the genesis hash
 * of the chain it is for. Two chains with the same keys at the same uids must
 * not accept each other's txs.
 */
import { describe, expect, it } from 'vitest';
import { createRegisterTx, LightClient, parseTx, signBlock, txRoot } from '../src/index.js';
import { harness, identities, producerIdentity, SCALE, setWeights } from './helpers.js';

const ROW = [
  [0, 900_000_000],
  [1, 100_000_000],
] as Array<[number, number]>;

describe('chain id in signed txs', () => {
  it('a tx signed for chain A is refused by chain B with wrong-chain and accepted by A', async () => {
    const a = await harness(2, { genesis: { chainId: 'chain-a' } });
    const b = await harness(2, { genesis: { chainId: 'chain-b' } });
    expect(a.genesisHash).not.toBe(b.genesisHash);
    // Same keys, same uids on both chains: only the chain id tells them apart.
    expect(a.producer.state().peers).toEqual(b.producer.state().peers);

    const forA = await setWeights(a.keys[0]!, 0, 1, ROW, a.genesisHash);
    const onB = await b.producer.submitTx(forA);
    expect(onB).toMatchObject({ ok: false, code: 'wrong-chain' });
    if (!onB.ok) expect(onB.message).toContain(b.genesisHash.slice(0, 12));
    expect(b.producer.mempoolSize).toBe(0);
    expect(await a.producer.submitTx(forA)).toMatchObject({ ok: true });
    await a.producer.produceBlock();
    expect(a.producer.state().weights[0]).toEqual(ROW);

    // Rewriting the chain field does not help: the signature covers it.
    const relabelled = { ...forA, genesisHash: b.genesisHash };
    expect(await b.producer.submitTx(relabelled)).toMatchObject({ ok: false, code: 'bad-signature' });

    // Register txs too.
    const [newcomer] = await identities(1, 123);
    const regA = await createRegisterTx(newcomer!, a.genesisHash);
    expect(await b.producer.submitTx(regA)).toMatchObject({ ok: false, code: 'wrong-chain' });
    expect(await a.producer.submitTx(regA)).toMatchObject({ ok: true });
    // Nothing changed on B.
    await b.producer.produceBlock();
    expect(b.producer.state().weights[0]).toEqual([[0, SCALE]]);
    expect(b.producer.state().peers).toHaveLength(2);
  });

  it('a light client refuses a producer-signed block that carries another chain’s tx', async () => {
    const a = await harness(2, { genesis: { chainId: 'chain-a' } });
    const b = await harness(2, { genesis: { chainId: 'chain-b' } });
    const client = new LightClient(b.genesis);
    await client.apply((await b.store.getBlock(1))!);
    const tx = parseTx(await setWeights(a.keys[0]!, 0, 1, ROW, a.genesisHash));
    const block = await signBlock(
      await producerIdentity(),
      {
        height: 2,
        parentHash: client.state.headHash,
        timestampMs: client.state.timestampMs + 1,
        txRoot: txRoot([tx.hash]),
        stateRoot: '0'.repeat(64),
      },
      [tx],
    );
    const r = client.apply(block.json);
    await expect(r).rejects.toMatchObject({ code: 'bad-tx' });
    await expect(r).rejects.toThrow(/wrong-chain/);
    expect(client.height).toBe(1);
  });
});
