/**
 * Blocks larger than one signaling message (64 KiB) reach subscribers in
 * parts and verify: the real ledger, the real server on 127.0.0.1, a real ws
 * client feeding a RemoteChain (the same path a browser peer takes).
 */
import {
  boundedRowToward,
  createRegisterTx,
  createSetWeightsTx,
  type EmbeddedLedger,
  type LedgerTransport,
  openEmbeddedLedger,
  RemoteChain,
  rowFromPairs,
} from '@peerbench/ledger';
import {
  type Identity,
  identityFromSecretKey,
  MAX_SIGNALING_MESSAGE_BYTES,
  type ServerMessage,
} from '@peerbench/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer } from '../src/index.js';
import { eventually, TestClient } from './helpers.js';

const PEERS = 400;

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A RemoteChain fed by a joined ws client, as apps/web wires it; also records every raw ledger-block frame. */
async function subscribedChain(server: SignalingServer, ledger: EmbeddedLedger) {
  const { client } = await TestClient.joined(server.url, 'big-blocks');
  cleanup.push(() => client.ws.terminate());
  const frames: number[] = [];
  const invalid: string[] = [];
  const transport: LedgerTransport = {
    sendTx: async () => ({ ok: false, code: 'unused' }),
    subscribe: (fromHeight, onBlock) => {
      const listener = (data: Buffer) => {
        const msg = JSON.parse(data.toString()) as ServerMessage;
        if (msg.type !== 'ledger-block') return;
        frames.push(data.length);
        onBlock(msg.block);
      };
      client.ws.on('message', listener);
      client.send({ type: 'ledger-subscribe', fromHeight });
      return () => client.ws.off('message', listener);
    },
  };
  const chain = new RemoteChain({
    transport,
    genesis: ledger.producer.genesis,
    onInvalidBlock: (e) => invalid.push(`${e.code}: ${e.message}`),
  });
  chain.start();
  cleanup.push(() => chain.stop());
  return { chain, frames, invalid, client };
}

describe('blocks over one signaling message', () => {
  it(`a block of ${PEERS} txs reaches a subscribed RemoteChain in parts and verifies (live and catch-up)`, async () => {
    const ledger = await openEmbeddedLedger({ autoStart: false });
    cleanup.push(() => ledger.stop());
    const server = createSignalingServer({ host: '127.0.0.1', port: 0, ledger: ledger.hook });
    await server.start();
    cleanup.push(() => server.stop());
    const live = await subscribedChain(server, ledger);

    const chainId = ledger.producer.state().genesisHash;
    const keys: Identity[] = [];
    for (let i = 0; i < PEERS; i++) {
      const seed = new Uint8Array(32).fill(i & 0xff);
      seed[0] = 200;
      seed[1] = i >> 8;
      keys.push(await identityFromSecretKey(seed));
    }
    for (const k of keys)
      expect((await ledger.producer.submitTx(await createRegisterTx(k, chainId))).ok).toBe(true);
    const b1 = await ledger.producer.produceBlock();
    expect(b1.block.txs).toHaveLength(PEERS);
    // Every peer sets an 8-entry row: one block of PEERS set-weights txs.
    const s = ledger.producer.state();
    for (let uid = 0; uid < PEERS; uid++) {
      const target = Array.from({ length: 8 }, (_, k) => [(uid + k) % PEERS, 1 + k] as [number, number]);
      const row = boundedRowToward(rowFromPairs(s.weights[uid]!), target, s.stepBoundL2);
      const tx = await createSetWeightsTx(keys[uid]!, uid, 1, row, chainId);
      expect((await ledger.producer.submitTx(tx)).ok).toBe(true);
    }
    const b2 = await ledger.producer.produceBlock();
    expect(b2.block.txs).toHaveLength(PEERS);
    expect(JSON.stringify(b2.block).length).toBeGreaterThan(2 * MAX_SIGNALING_MESSAGE_BYTES);

    await eventually(() => live.chain.height === 2, 20_000);
    await live.chain.idle();
    expect(live.invalid).toEqual([]);
    expect(live.chain.state().stateRoot).toBe(ledger.producer.state().stateRoot);
    expect(live.chain.state().activeRows.filter(Boolean)).toHaveLength(PEERS);
    // It really went in parts, each within the protocol limit.
    expect(live.frames.length).toBeGreaterThan(4);
    expect(Math.max(...live.frames)).toBeLessThanOrEqual(MAX_SIGNALING_MESSAGE_BYTES);
    expect(server.metrics().ledgerBlocksSentInPartsTotal).toBe(2);
    expect(server.metrics().ledgerBlocksOversizedTotal).toBe(0);

    // A late subscriber gets the same blocks through the catch-up path.
    const late = await subscribedChain(server, ledger);
    await eventually(() => late.chain.height === 2, 20_000);
    await late.chain.idle();
    expect(late.invalid).toEqual([]);
    expect(late.chain.state().stateRoot).toBe(ledger.producer.state().stateRoot);
    expect(server.metrics().ledgerBlocksSentInPartsTotal).toBe(4);
  }, 60_000);
});
