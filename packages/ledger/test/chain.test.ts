import { describe, expect, it, vi } from 'vitest';
import {
  type ChainHead,
  createRegisterTx,
  type LedgerStateView,
  type LedgerTransport,
  LocalChain,
  RemoteChain,
  uidOf,
} from '../src/index.js';
import { harness, identities, SCALE, setWeights } from './helpers.js';

describe('LocalChain', () => {
  it('submits, announces heads with the new state, and reads state', async () => {
    const h = await harness(2);
    const chain = new LocalChain(h.producer);
    const heads: Array<[ChainHead, LedgerStateView]> = [];
    const off = chain.subscribeHeads((head, state) => heads.push([head, state]));
    const [newcomer] = await identities(1, 9);
    expect(await chain.submitTx(await createRegisterTx(newcomer!, h.genesisHash))).toEqual({ ok: true });
    expect(await chain.submitTx(await createRegisterTx(newcomer!, h.genesisHash))).toMatchObject({
      ok: false,
      code: 'duplicate-key',
    });
    await h.producer.produceBlock();
    off();
    await h.producer.produceBlock();
    expect(heads).toHaveLength(1);
    expect(heads[0]![0]).toMatchObject({ height: 2, txCount: 1 });
    expect(uidOf(heads[0]![1], newcomer!.peerId)).toBe(2);
    expect(chain.state().height).toBe(3);
  });
});

/** A transport over an in-process producer that can misbehave on demand. */
function transportOver(
  h: Awaited<ReturnType<typeof harness>>,
  tamper?: (b: unknown, n: number) => unknown[],
) {
  let delivered = 0;
  const transport: LedgerTransport = {
    sendTx: (tx) => h.producer.submitTx(tx),
    subscribe(from, onBlock) {
      let live = true;
      void h.producer.blocksFrom(from, 1000).then((bs) => {
        for (const b of bs) if (live) for (const x of tamper ? tamper(b, delivered++) : [b]) onBlock(x);
      });
      const off = h.producer.onBlock(({ block }) => {
        for (const x of tamper ? tamper(block, delivered++) : [block]) onBlock(x);
      });
      return () => {
        live = false;
        off();
      };
    },
  };
  return transport;
}

describe('RemoteChain', () => {
  it('verifies every block through its light client, catching up from height 1 and following live', async () => {
    const h = await harness(2);
    await h.producer.produceBlock();
    const chain = new RemoteChain({ transport: transportOver(h), genesis: h.genesis });
    const heights: number[] = [];
    chain.subscribeHeads((head) => heights.push(head.height));
    chain.start();
    // Catch-up arrives asynchronously (blocksFrom resolves later): wait for it, not for a fixed time.
    await vi.waitFor(() => expect(chain.height).toBe(2));
    await chain.idle();
    const r = await chain.submitTx(
      await setWeights(h.keys[0]!, 0, 1, [
        [0, 0.9 * SCALE],
        [1, 0.1 * SCALE],
      ]),
    );
    expect(r).toEqual({ ok: true });
    await h.producer.produceBlock();
    await chain.idle();
    expect(heights).toEqual([1, 2, 3]);
    expect(chain.state()).toEqual(h.producer.state());
    chain.stop();
    await h.producer.produceBlock();
    await chain.idle();
    expect(chain.height).toBe(3);
  });

  it('reorders early blocks, ignores duplicates, and drops a tampered block without changing state', async () => {
    const h = await harness(2);
    for (let i = 0; i < 4; i++) await h.producer.produceBlock();
    const invalid: string[] = [];
    // Deliver each block twice, and block 3 first as a tampered copy.
    const transport = transportOver(h, (b) => {
      const block = b as { height: number; stateRoot: string };
      if (block.height === 3) return [{ ...block, stateRoot: '0'.repeat(64) }, b];
      return [b, b];
    });
    const chain = new RemoteChain({
      transport,
      genesis: h.genesis,
      onInvalidBlock: (e) => invalid.push(e.code),
    });
    chain.start();
    await vi.waitFor(() => expect(chain.height).toBe(5));
    await chain.idle();
    // The tampered copy of 3 was replaced by the honest one in the buffer before it could be applied,
    // or rejected: either way the chain reaches 5 with the producer's root.
    expect(chain.height).toBe(5);
    expect(chain.state().stateRoot).toBe(h.producer.state().stateRoot);
    expect(invalid.every((c) => c === 'bad-producer-signature')).toBe(true);
  });

  it('reports a tampered block it cannot replace and stays at the last verified head', async () => {
    const h = await harness(2);
    await h.producer.produceBlock();
    const invalid: Array<{ code: string; height: number | undefined }> = [];
    const transport = transportOver(h, (b) => {
      const block = b as { height: number; stateRoot: string };
      return block.height === 2 ? [{ ...block, stateRoot: '0'.repeat(64) }] : [b];
    });
    const chain = new RemoteChain({ transport, genesis: h.genesis, onInvalidBlock: (e) => invalid.push(e) });
    chain.start();
    // Block 1 applies, the tampered block 2 is reported; nothing after it can apply.
    await vi.waitFor(() => expect(invalid).toHaveLength(1));
    await chain.idle();
    expect(chain.height).toBe(1);
    expect(invalid).toEqual([{ code: 'bad-producer-signature', height: 2, message: expect.any(String) }]);
  });

  it('turns transport failures into an unavailable result instead of throwing', async () => {
    const h = await harness(1);
    const chain = new RemoteChain({
      genesis: h.genesis,
      transport: { sendTx: () => Promise.reject(new Error('socket closed')), subscribe: () => () => {} },
    });
    expect(await chain.submitTx(await createRegisterTx((await identities(1, 5))[0]!, h.genesisHash))).toEqual(
      {
        ok: false,
        code: 'unavailable',
        message: 'socket closed',
      },
    );
  });
});
