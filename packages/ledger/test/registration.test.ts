import { describe, expect, it } from 'vitest';
import {
  BlockProducer,
  createRegisterTx,
  defaultGenesis,
  LedgerState,
  LightClient,
  leadingZeroBits,
  MemoryStore,
  parseTx,
  registrationWorkBits,
  solveRegistrationWork,
} from '../src/index.js';
import { identities, producerIdentity } from './helpers.js';

async function producerWith(genesisOverrides: Parameters<typeof defaultGenesis>[1]) {
  const id = await producerIdentity();
  const genesis = defaultGenesis(id.peerId, { timestampMs: 1_700_000_000_000, ...genesisOverrides });
  let clock = genesis.timestampMs;
  const store = new MemoryStore();
  const producer = await BlockProducer.open({ store, identity: id, genesis, now: () => (clock += 1000) });
  return { producer, genesis, store, chain: producer.state().genesisHash };
}

describe('registration proof of work', () => {
  it('counts leading zero bits in big-endian bit order', () => {
    expect(leadingZeroBits(new Uint8Array([0, 0, 0x80]))).toBe(16);
    expect(leadingZeroBits(new Uint8Array([0, 0x01]))).toBe(15);
    expect(leadingZeroBits(new Uint8Array([0x40]))).toBe(1);
    expect(leadingZeroBits(new Uint8Array([0, 0]))).toBe(16);
  });

  it('a register tx needs work bound to its key and chain', async () => {
    const { producer, chain } = await producerWith({ registrationWorkBits: 10 });
    const [a, b] = await identities(2, 41);
    // No work, and work solved for another key: both refused, nothing queued.
    expect(await producer.submitTx(await createRegisterTx(a!, chain))).toMatchObject({
      ok: false,
      code: 'insufficient-work',
    });
    const workOfB = await solveRegistrationWork(chain, b!.publicKey, 10);
    if (registrationWorkBits(chain, a!.publicKey, workOfB) < 10) {
      expect(await producer.submitTx(await createRegisterTx(a!, chain, workOfB))).toMatchObject({
        ok: false,
        code: 'insufficient-work',
      });
    }
    expect(producer.mempoolSize).toBe(0);
    // Work for another chain does not count here either.
    const otherChain = 'ab'.repeat(32);
    const workElsewhere = await solveRegistrationWork(otherChain, a!.publicKey, 10);
    if (registrationWorkBits(chain, a!.publicKey, workElsewhere) < 10) {
      expect(await producer.submitTx(await createRegisterTx(a!, chain, workElsewhere))).toMatchObject({
        ok: false,
        code: 'insufficient-work',
      });
    }
    const work = await solveRegistrationWork(chain, a!.publicKey, 10);
    expect(registrationWorkBits(chain, a!.publicKey, work)).toBeGreaterThanOrEqual(10);
    expect(await producer.submitTx(await createRegisterTx(a!, chain, work))).toMatchObject({ ok: true });
    await producer.produceBlock();
    expect(producer.state().peers).toEqual([a!.peerId]);
  });

  it('the work is signed: changing it breaks the signature', async () => {
    const { producer, chain } = await producerWith({ registrationWorkBits: 4 });
    const [a] = await identities(1, 42);
    const work = await solveRegistrationWork(chain, a!.publicKey, 4);
    const tx = await createRegisterTx(a!, chain, work);
    // Find another nonce that also has the work: only the signature can refuse it.
    let other = work + 1;
    while (registrationWorkBits(chain, a!.publicKey, other) < 4) other++;
    expect(await producer.submitTx({ ...tx, work: other })).toMatchObject({
      ok: false,
      code: 'bad-signature',
    });
    expect(parseTx(tx).message.length).toBe(parseTx({ ...tx, work: undefined }).message.length + 8);
  });

  it('the solver can be aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(
      solveRegistrationWork('00'.repeat(32), new Uint8Array(32), 30, controller.signal),
    ).rejects.toThrow('stop');
  });
});

describe('registrations per block', () => {
  it('over the cap, acknowledged registrations wait for later blocks and none is lost', async () => {
    const { producer, store, genesis } = await producerWith({ maxRegistrationsPerBlock: 3 });
    const keys = await identities(10, 43);
    for (const k of keys) {
      expect(await producer.submitTx(await createRegisterTx(k, producer.state().genesisHash))).toMatchObject({
        ok: true,
      });
    }
    const perBlock: number[] = [];
    while (producer.mempoolSize > 0) {
      const before = producer.state().peers.length;
      await producer.produceBlock();
      perBlock.push(producer.state().peers.length - before);
    }
    expect(perBlock).toEqual([3, 3, 3, 1]);
    // In submission order.
    expect(producer.state().peers).toEqual(keys.map((k) => k.peerId));
    // A light client replaying the chain enforces the same cap and agrees.
    const client = new LightClient(genesis);
    for (const b of await store.blocksFrom(1, 100)) await client.apply(b);
    expect(client.state.root()).toBe(producer.state().stateRoot);
  });

  it('the cap is part of the state transition: a state refuses the cap+1-th registration of a block', async () => {
    const id = await producerIdentity();
    const genesis = defaultGenesis(id.peerId, { maxRegistrationsPerBlock: 2 });
    const state = new LedgerState(genesis);
    const keys = await identities(3, 44);
    const txs = await Promise.all(
      keys.map(async (k) => parseTx(await createRegisterTx(k, state.genesisHash))),
    );
    state.checkTx(txs[0]!);
    state.applyTx(txs[0]!);
    state.checkTx(txs[1]!);
    state.applyTx(txs[1]!);
    expect(() => state.checkTx(txs[2]!)).toThrow(expect.objectContaining({ code: 'registration-cap' }));
    state.finishBlock(1, 'h1', 1);
    expect(() => state.checkTx(txs[2]!)).not.toThrow();
  });

  it('an acknowledged registration always finds a uid: pending ones count against maxUids', async () => {
    const { producer } = await producerWith({ maxUids: 5 });
    const keys = await identities(7, 45);
    const codes: string[] = [];
    for (const k of keys) {
      const r = await producer.submitTx(await createRegisterTx(k, producer.state().genesisHash));
      codes.push(r.ok ? 'ok' : r.code);
    }
    expect(codes).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'registry-full', 'registry-full']);
    await producer.produceBlock();
    expect(producer.state().peers).toEqual(keys.slice(0, 5).map((k) => k.peerId));
  });
});

describe('registration cost', () => {
  it('stake and rank keep their values as the registry grows, and clones do not share them', async () => {
    const id = await producerIdentity();
    const genesis = defaultGenesis(id.peerId, { faucetRegistrations: 3, registrationStake: 2 });
    const state = new LedgerState(genesis);
    const keys = await identities(40, 46);
    for (const [i, k] of keys.entries()) {
      const tx = parseTx(await createRegisterTx(k, state.genesisHash));
      state.applyTx(tx);
      if (i === 20) {
        const snapshot = state.clone();
        state.stake[0] = 99;
        expect(snapshot.stake[0]).toBe(2);
        state.stake[0] = 2;
      }
    }
    expect(Array.from(state.stake)).toEqual([2, 2, 2, ...new Array(37).fill(0)]);
    expect(state.rank.length).toBe(40);
    expect(Array.from(state.rank).every((r) => r === 0)).toBe(true);
  });
});
