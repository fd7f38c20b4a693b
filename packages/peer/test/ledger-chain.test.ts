import {
  BlockProducer,
  createRegisterTx,
  defaultGenesis,
  generateIdentity,
  LocalChain,
  MemoryStore,
} from '@peerbench/ledger';
import { describe, expect, it } from 'vitest';
import { LedgerChainClient } from '../src/ledger-chain.js';

async function chainWith(genesis: Parameters<typeof defaultGenesis>[1]) {
  const producerKey = await generateIdentity();
  const producer = await BlockProducer.open({
    store: new MemoryStore(),
    identity: producerKey,
    genesis: defaultGenesis(producerKey.peerId, genesis),
  });
  return { producer, chain: new LocalChain(producer) };
}

describe('LedgerChainClient registration', () => {
  it('solves the chain’s proof of work, and a chain that asks for it refuses a register without it', async () => {
    const { producer, chain } = await chainWith({ registrationWorkBits: 8 });
    const lazy = await generateIdentity();
    const refused = await chain.submitTx(await createRegisterTx(lazy, producer.state().genesisHash));
    expect(refused).toMatchObject({ ok: false, code: 'insufficient-work' });

    const me = await generateIdentity();
    const client = new LedgerChainClient(chain, me);
    await client.ensureRegistered();
    await producer.produceBlock();
    expect(client.uidOf(me.peerId)).toBe(0);
  });

  it('sending the registration again while it waits in the mempool is not an error', async () => {
    const { producer, chain } = await chainWith({ maxRegistrationsPerBlock: 1 });
    const others = await Promise.all([generateIdentity(), generateIdentity()]);
    for (const o of others)
      expect(await chain.submitTx(await createRegisterTx(o, producer.state().genesisHash))).toEqual({
        ok: true,
      });
    const me = await generateIdentity();
    const client = new LedgerChainClient(chain, me);
    await client.ensureRegistered();
    await producer.produceBlock();
    expect(client.uidOf(me.peerId)).toBeNull(); // deferred: the cap is one per block
    await client.ensureRegistered(); // a retry while pending: duplicate-key, accepted as sent
    await producer.produceBlock();
    await producer.produceBlock();
    expect(client.uidOf(me.peerId)).toBe(2);
  });
});
