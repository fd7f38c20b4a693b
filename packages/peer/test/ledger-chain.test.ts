import { BlockProducer, createRegisterTx, defaultGenesis, LocalChain, MemoryStore } from '@peerbench/ledger';
import { generateIdentity } from '@peerbench/protocol';
import { describe, expect, it } from 'vitest';
import { ChainError, LedgerChainClient } from '../src/ledger-chain.js';

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

async function openChain(maxUids: number): Promise<{ producer: BlockProducer; chain: LocalChain }> {
  const identity = await generateIdentity();
  const genesis = defaultGenesis(identity.peerId, { maxUids });
  const producer = await BlockProducer.open({ store: new MemoryStore(), identity, genesis });
  return { producer, chain: new LocalChain(producer) };
}

describe('LedgerChainClient.ensureRegistered', () => {
  it('treats a register tx already pending for its key as its own (duplicate-key)', async () => {
    const { producer, chain } = await openChain(16);
    const peer = await generateIdentity();
    // Two clients of one identity (a reload while the first register is still in the mempool).
    await new LedgerChainClient(chain, peer).ensureRegistered();
    await expect(new LedgerChainClient(chain, peer).ensureRegistered()).resolves.toBeUndefined();
    await producer.produceBlock();
    expect(producer.state().peers).toContain(peer.peerId);
  });

  it('throws any other refusal with its typed code', async () => {
    const { producer, chain } = await openChain(1);
    await new LedgerChainClient(chain, await generateIdentity()).ensureRegistered();
    await producer.produceBlock();
    const refused = new LedgerChainClient(chain, await generateIdentity()).ensureRegistered();
    await expect(refused).rejects.toBeInstanceOf(ChainError);
    await expect(refused).rejects.toMatchObject({ code: 'registry-full' });
  });
});
