/**
 * The ledger seam, exercised with an in-test fake: the real ledger is tested
 * in packages/ledger; here we test what the server does with any hook.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CloseCode,
  type LedgerSubmitResult,
  MAX_SIGNALING_MESSAGE_BYTES,
  type ServerMessage,
} from '@peerbench/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSignalingServer,
  LEDGER_PAGE_BLOCKS,
  type LedgerHook,
  type SignalingServer,
} from '../src/index.js';
import { delay, eventually, TestClient } from './helpers.js';

interface FakeBlock {
  height: number;
  pad?: string;
}

class FakeLedger implements LedgerHook {
  readonly blocks: FakeBlock[] = [];
  readonly listeners = new Set<(block: unknown) => void>();
  readonly submitted: unknown[] = [];
  txDelayMs = 0;
  pageDelayMs = 0;
  pagesServed = 0;
  /** Called once per page request, e.g. to make blocks while a catch-up is in progress. */
  onPage: (() => void) | undefined;

  constructor(initialBlocks: number) {
    for (let h = 1; h <= initialBlocks; h++) this.blocks.push({ height: h });
  }

  async submitTx(tx: unknown): Promise<LedgerSubmitResult> {
    this.submitted.push(tx);
    if (this.txDelayMs > 0) await delay(this.txDelayMs);
    const kind = (tx as { kind?: string }).kind;
    if (kind === 'throw') throw new Error('disk on fire');
    if (kind === 'bad') return { ok: false, code: 'replayed-nonce', message: 'nonce 3 already used' };
    // A hook from outside this repository may break its type: the server must not relay an unknown code.
    if (kind === 'alien')
      return { ok: false, code: 'bad-nonce', message: 'no' } as unknown as LedgerSubmitResult;
    return { ok: true };
  }

  async blocksFrom(fromHeight: number, limit: number): Promise<unknown[]> {
    this.pagesServed++;
    this.onPage?.();
    if (this.pageDelayMs > 0) await delay(this.pageDelayMs);
    return this.blocks.filter((b) => b.height >= fromHeight).slice(0, limit);
  }

  onBlock(cb: (block: unknown) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (req.url !== '/ledger/head') return false;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ height: this.blocks.length }));
    return true;
  }

  produce(pad?: string): FakeBlock {
    const block: FakeBlock = { height: this.blocks.length + 1 };
    if (pad !== undefined) block.pad = pad;
    this.blocks.push(block);
    for (const l of this.listeners) l(block);
    return block;
  }
}

const servers: SignalingServer[] = [];
const clients: TestClient[] = [];

async function setup(ledger?: FakeLedger) {
  const server = createSignalingServer({ host: '127.0.0.1', port: 0, ...(ledger ? { ledger } : {}) });
  await server.start();
  servers.push(server);
  const { client } = await TestClient.joined(server.url, 'ledger-room');
  clients.push(client);
  return { server, client };
}

function heights(msgs: ServerMessage[]): number[] {
  return msgs.flatMap((m) => (m.type === 'ledger-block' ? [(m.block as FakeBlock).height] : []));
}

async function blocksUntil(client: TestClient, height: number): Promise<void> {
  await client.next((m) => m.type === 'ledger-block' && (m.block as FakeBlock).height === height, 5_000);
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

describe('ledger hook', () => {
  it('answers ledger-unavailable without a hook, and not-joined before a join', async () => {
    const { server, client } = await setup();
    client.send({ type: 'ledger-tx', requestId: 'r1', tx: {} });
    expect(await client.next((m) => m.type === 'error')).toMatchObject({
      code: 'ledger-unavailable',
      requestId: 'r1',
    });
    client.send({ type: 'ledger-subscribe', fromHeight: 0 });
    expect(await client.nextError()).toBe('ledger-unavailable');
    expect((await fetch(`${server.httpUrl}/ledger/head`)).status).toBe(503);

    const withLedger = await setup(new FakeLedger(0));
    const stranger = await TestClient.connect(withLedger.server.url);
    clients.push(stranger);
    stranger.send({ type: 'ledger-tx', requestId: 'r2', tx: {} });
    expect(await stranger.next((m) => m.type === 'error')).toMatchObject({
      code: 'not-joined',
      requestId: 'r2',
    });
    stranger.send({ type: 'ledger-subscribe', fromHeight: 0 });
    expect(await stranger.nextError()).toBe('not-joined');
  });

  it('submits txs and reports accepted, rejected and failed', async () => {
    const ledger = new FakeLedger(0);
    const { server, client } = await setup(ledger);
    client.send({ type: 'ledger-tx', requestId: 'ok', tx: { kind: 'good' } });
    client.send({ type: 'ledger-tx', requestId: 'no', tx: { kind: 'bad' } });
    client.send({ type: 'ledger-tx', requestId: 'boom', tx: { kind: 'throw' } });
    client.send({ type: 'ledger-tx', requestId: 'alien', tx: { kind: 'alien' } });
    const byId = async (id: string) =>
      client.next((m) => m.type === 'ledger-tx-result' && m.requestId === id);
    expect(await byId('ok')).toEqual({ type: 'ledger-tx-result', requestId: 'ok', ok: true });
    expect(await byId('no')).toEqual({
      type: 'ledger-tx-result',
      requestId: 'no',
      ok: false,
      code: 'replayed-nonce',
      message: 'nonce 3 already used',
    });
    expect(await byId('boom')).toMatchObject({ ok: false, code: 'internal' });
    expect(await byId('alien')).toMatchObject({ ok: false, code: 'rejected' });
    expect(ledger.submitted).toEqual([
      { kind: 'good' },
      { kind: 'bad' },
      { kind: 'throw' },
      { kind: 'alien' },
    ]);
    expect(server.metrics().ledgerTxsTotal).toEqual({ accepted: 1, rejected: 2, failed: 1 });
  });

  it('catches a subscriber up page by page, then pushes new blocks, with no gap or duplicate', async () => {
    const ledger = new FakeLedger(3 * LEDGER_PAGE_BLOCKS + 10);
    ledger.pageDelayMs = 5;
    // Blocks made while the catch-up is in flight must arrive exactly once.
    let pages = 0;
    ledger.onPage = () => {
      if (++pages <= 2) ledger.produce();
    };
    const { client } = await setup(ledger);
    client.send({ type: 'ledger-subscribe', fromHeight: 10 });
    const last = ledger.blocks.length;
    await blocksUntil(client, last);
    ledger.produce();
    ledger.produce();
    await blocksUntil(client, last + 2);
    const got = heights(client.received);
    const expected = Array.from({ length: last + 2 - 9 }, (_, i) => 10 + i);
    expect(got).toEqual(expected);
    expect(ledger.pagesServed).toBeGreaterThanOrEqual(4);
  });

  it('replaces a subscription on resubscribe and drops it on leave and on close', async () => {
    const ledger = new FakeLedger(5);
    const { client } = await setup(ledger);
    client.send({ type: 'ledger-subscribe', fromHeight: 5 });
    await blocksUntil(client, 5);
    client.send({ type: 'ledger-subscribe', fromHeight: 4 });
    await blocksUntil(client, 4);
    await blocksUntil(client, 5);
    expect(ledger.listeners.size).toBe(1);
    client.send({ type: 'leave' });
    await eventually(() => ledger.listeners.size === 0);
    ledger.produce();
    await client.join('again', client.identity!);
    client.send({ type: 'ledger-subscribe', fromHeight: 7 });
    await eventually(() => ledger.listeners.size === 1);
    client.close();
    await eventually(() => ledger.listeners.size === 0);
    expect(heights(client.received).filter((h) => h === 6)).toEqual([]);
  });

  it('announces a non-ledger block too large for one message (nothing to split) instead of sending it', async () => {
    const ledger = new FakeLedger(0);
    const { server, client } = await setup(ledger);
    client.send({ type: 'ledger-subscribe', fromHeight: 1 });
    await eventually(() => ledger.listeners.size === 1);
    await delay(20); // catch-up of an empty chain completes
    ledger.produce('x'.repeat(MAX_SIGNALING_MESSAGE_BYTES));
    ledger.produce();
    const err = await client.next((m) => m.type === 'error');
    expect(err).toMatchObject({ code: 'internal' });
    await blocksUntil(client, 2);
    expect(heights(client.received)).toEqual([2]);
    expect(server.metrics().ledgerBlocksOversizedTotal).toBe(1);
  });

  it('delegates /ledger/* HTTP routes to the hook', async () => {
    const ledger = new FakeLedger(7);
    const { server } = await setup(ledger);
    const head = await fetch(`${server.httpUrl}/ledger/head`);
    expect(await head.json()).toEqual({ height: 7 });
    expect((await fetch(`${server.httpUrl}/ledger/nothing-here`)).status).toBe(404);
  });

  it('lets an in-flight tx finish before a graceful stop closes with 1001', async () => {
    const ledger = new FakeLedger(0);
    ledger.txDelayMs = 150;
    const { server, client } = await setup(ledger);
    await client.sendAsync(JSON.stringify({ type: 'ledger-tx', requestId: 'slow', tx: { kind: 'good' } }));
    await eventually(() => ledger.submitted.length === 1);
    await server.stop();
    expect((await client.closed).code).toBe(CloseCode.goingAway);
    expect(client.received.filter((m) => m.type === 'ledger-tx-result')).toEqual([
      { type: 'ledger-tx-result', requestId: 'slow', ok: true },
    ]);
  });
});
