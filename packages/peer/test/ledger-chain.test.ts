import { BlockProducer, defaultGenesis, generateIdentity, LocalChain, MemoryStore } from '@peerbench/ledger';
import { describe, expect, it } from 'vitest';
import { ChainError, LedgerChainClient } from '../src/ledger-chain.js';

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
