import { describe, expect, it } from 'vitest';
import {
  BlockProducer,
  defaultGenesis,
  genesisHash,
  isLedgerError,
  LightClient,
  MemoryStore,
  parseGenesis,
  producersOf,
} from '../src/index.js';
import { identities } from './helpers.js';

/** Proof of authority: genesis.producers lists every key allowed to sign blocks. */
describe('genesis producers', () => {
  it('absent producers means [producer] and leaves the genesis hash as it was', async () => {
    const [p] = await identities(1, 240);
    const g = defaultGenesis(p!.peerId, { timestampMs: 1 });
    expect(producersOf(g)).toEqual([p!.peerId]);
    const withField = { ...g, producers: undefined };
    expect(genesisHash(withField)).toBe(genesisHash(g));
    expect(genesisHash({ ...g, producers: [p!.peerId] })).not.toBe(genesisHash(g));
  });

  it('refuses a producers list without the producer, with duplicates, or empty', async () => {
    const [a, b] = await identities(2, 241);
    const g = defaultGenesis(a!.peerId, { timestampMs: 1 });
    for (const producers of [[b!.peerId], [a!.peerId, a!.peerId], []])
      expect(() => parseGenesis({ ...g, producers })).toThrow(/invalid genesis/);
    expect(parseGenesis({ ...g, producers: [a!.peerId, b!.peerId] }).producers).toHaveLength(2);
  });

  it('a light client accepts blocks signed by any listed producer and refuses an unlisted key', async () => {
    const [a, b, outsider] = await identities(3, 242);
    const genesis = defaultGenesis(a!.peerId, {
      timestampMs: 1_700_000_000_000,
      producers: [a!.peerId, b!.peerId],
    });
    // Three chains from the same genesis, each signed by a different key.
    const blockBy = async (key: typeof a) => {
      const producer = await BlockProducer.open({ store: new MemoryStore(), identity: key!, genesis });
      return (await producer.produceBlock()).block;
    };
    for (const key of [a, b]) {
      const client = new LightClient(genesis);
      await client.apply(await blockBy(key));
      expect(client.height).toBe(1);
    }
    // An unlisted key cannot even open a producer on this genesis …
    await expect(
      BlockProducer.open({ store: new MemoryStore(), identity: outsider!, genesis }),
    ).rejects.toThrow(/not a genesis producer/);
    // … and a block it signs anyway (same header as a valid one) is refused.
    const forged = await (async () => {
      const { signBlock, parseBlock } = await import('../src/block.js');
      const valid = parseBlock(await blockBy(a));
      const { producer: _, signature: __, txs: ___, ...header } = valid.json;
      return (await signBlock(outsider!, header, valid.txs)).json;
    })();
    const client = new LightClient(genesis);
    const err = await client.apply(forged).catch((e: unknown) => e);
    expect(isLedgerError(err) && err.code).toBe('bad-producer-signature');
    expect(client.height).toBe(0);
  });
});
