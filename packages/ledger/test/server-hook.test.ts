import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type BlockJson, createRegisterTx, LightClient } from '../src/index.js';
import {
  createLedgerHook,
  type LedgerHookOptions,
  type LedgerHookSource,
  MAX_BLOCKS_PER_PAGE,
  MAX_HTTP_BODY_BYTES,
} from '../src/server-hook.js';
import type { LedgerStateView } from '../src/state.js';
import {
  type LedgerStatePage,
  type LedgerStateSummary,
  MAX_STATE_PAGE_UIDS,
  SUMMARY_TOP_UIDS,
} from '../src/state-pages.js';
import { harness, identities, SCALE, setWeights } from './helpers.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function serve(
  h: Awaited<ReturnType<typeof harness>>,
  options: LedgerHookOptions = {},
  source: LedgerHookSource = h.producer,
) {
  const hook = createLedgerHook(source, options);
  server = createServer((req, res) => {
    void hook.handleHttp(req, res).then((handled) => {
      if (!handled) {
        res.writeHead(404);
        res.end('other route');
      }
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  return { hook, base };
}

describe('ledger server hook over real HTTP', () => {
  it('serves head, blocks, state and genesis, and accepts txs', async () => {
    const h = await harness(2);
    const { base } = await serve(h);
    const tx = await setWeights(h.keys[0]!, 0, 1, [
      [0, 0.9 * SCALE],
      [1, 0.1 * SCALE],
    ]);
    const post = await fetch(`${base}/ledger/tx`, { method: 'POST', body: JSON.stringify(tx) });
    expect(post.status).toBe(200);
    expect(await post.json()).toEqual({ ok: true });
    const again = await fetch(`${base}/ledger/tx`, { method: 'POST', body: JSON.stringify(tx) });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ ok: false, code: 'replayed-nonce' });
    await h.producer.produceBlock();

    const head = (await (await fetch(`${base}/ledger/head`)).json()) as { height: number; block: BlockJson };
    expect(head.height).toBe(2);
    expect(head.block.txs).toHaveLength(1);
    const { blocks } = (await (await fetch(`${base}/ledger/blocks?from=1&limit=10`)).json()) as {
      blocks: BlockJson[];
    };
    expect(blocks.map((b) => b.height)).toEqual([1, 2]);
    const genesisRes = await fetch(`${base}/ledger/genesis`);
    expect(genesisRes.headers.get('access-control-allow-origin')).toBe('*');
    const genesis = await genesisRes.json();
    const client = new LightClient(genesis as typeof h.genesis);
    for (const b of blocks) await client.apply(b);
    const state = (await (await fetch(`${base}/ledger/state`)).json()) as Record<string, unknown>;
    expect(state.stateRoot).toBe(client.state.root());
    expect(state).toMatchObject({ height: 2, tau: 0.1, peers: h.producer.state().peers });
    expect((state.weights as unknown[])[0]).toEqual(tx.weights);
    expect(state.stake).toEqual(h.producer.state().stake);
    expect(state.rank).toEqual(h.producer.state().rank);
  });

  it('caps pages and bodies and answers bad requests with codes', async () => {
    const h = await harness(1);
    for (let i = 0; i < MAX_BLOCKS_PER_PAGE + 5; i++) await h.producer.produceBlock();
    const { base, hook } = await serve(h);
    const page = (await (await fetch(`${base}/ledger/blocks?from=2&limit=100000`)).json()) as {
      blocks: BlockJson[];
    };
    expect(page.blocks).toHaveLength(MAX_BLOCKS_PER_PAGE);
    expect(page.blocks[0]!.height).toBe(2);
    expect((await hook.blocksFrom(1, 1e9)).length).toBe(MAX_BLOCKS_PER_PAGE);
    expect((await fetch(`${base}/ledger/blocks?from=-1`)).status).toBe(400);
    const big = await fetch(`${base}/ledger/tx`, {
      method: 'POST',
      body: 'x'.repeat(MAX_HTTP_BODY_BYTES + 1),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: 'too-large' });
    const junk = await fetch(`${base}/ledger/tx`, { method: 'POST', body: '{' });
    expect(await junk.json()).toMatchObject({ code: 'malformed' });
    expect((await fetch(`${base}/ledger/tx`)).status).toBe(405);
    expect((await fetch(`${base}/ledger/nope`)).status).toBe(404);
    expect(await (await fetch(`${base}/other`)).text()).toBe('other route');
  });

  it('pushes each new block to onBlock subscribers in JSON form and submits over the hook', async () => {
    const h = await harness(1);
    const hook = createLedgerHook(h.producer);
    const got: unknown[] = [];
    const off = hook.onBlock((b) => got.push(b));
    const [k] = await identities(1, 77);
    expect(await hook.submitTx(await createRegisterTx(k!, h.genesisHash))).toEqual({ ok: true });
    expect(await hook.submitTx({ type: 'register' })).toMatchObject({ ok: false, code: 'malformed' });
    await h.producer.produceBlock();
    off();
    await h.producer.produceBlock();
    expect(got).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(got[0]))).toMatchObject({ height: 2, txs: [{ type: 'register' }] });
  });

  it('serialises /ledger/state once per block however many read it', async () => {
    const h = await harness(2);
    // The producer's own view, counted each time JSON.stringify serialises it.
    let serialisations = 0;
    const counted = new WeakMap<LedgerStateView, LedgerStateView>();
    const source: LedgerHookSource = {
      genesis: h.genesis,
      submitTx: (tx) => h.producer.submitTx(tx),
      blocksFrom: (from, limit) => h.producer.blocksFrom(from, limit),
      onBlock: (cb) => h.producer.onBlock(cb),
      head: () => h.producer.head(),
      state: () => {
        const view = h.producer.state();
        let wrapped = counted.get(view);
        if (!wrapped) {
          wrapped = Object.assign(Object.create(null) as object, view, {
            toJSON: () => {
              serialisations++;
              return view;
            },
          }) as LedgerStateView;
          counted.set(view, wrapped);
        }
        return wrapped;
      },
    };
    const { base } = await serve(h, {}, source);
    const read = async () => (await (await fetch(`${base}/ledger/state`)).json()) as { height: number };
    for (let i = 0; i < 5; i++) expect((await read()).height).toBe(1);
    expect(serialisations).toBe(1);
    await h.producer.produceBlock();
    for (let i = 0; i < 5; i++) expect((await read()).height).toBe(2);
    expect(serialisations).toBe(2);
  });

  it('pages /ledger/state by uid and serves a small /ledger/summary, both matching the whole state', async () => {
    const h = await harness(5);
    // Weights from uid 0 so ranks differ, then a block to apply them.
    const tx = await setWeights(h.keys[0]!, 0, 1, [
      [0, 0.9 * SCALE],
      [3, 0.1 * SCALE],
    ]);
    expect(await h.producer.submitTx(tx)).toMatchObject({ ok: true });
    await h.producer.produceBlock();
    const { base } = await serve(h);
    const get = async (path: string) => {
      const r = await fetch(`${base}${path}`);
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    const whole = (await get('/ledger/state')).body as unknown as LedgerStateView;
    expect(whole.peers).toHaveLength(5);
    // Pages of 2: uids 0-1, 2-3, 4; concatenated they are the whole arrays.
    const pages: LedgerStatePage[] = [];
    let from: number | undefined = 0;
    while (from !== undefined) {
      const page = (await get(`/ledger/state?from=${from}&limit=2`)).body as unknown as LedgerStatePage;
      pages.push(page);
      from = page.next;
    }
    expect(pages.map((p) => [p.from, p.peers.length])).toEqual([
      [0, 2],
      [2, 2],
      [4, 1],
    ]);
    for (const key of ['peers', 'stake', 'rank', 'nonces', 'weights', 'lastSetHeight', 'activeRows'] as const)
      expect(pages.flatMap((p) => p[key] as unknown[])).toEqual(whole[key]);
    expect(pages[0]).toMatchObject({
      uids: 5,
      height: whole.height,
      stateRoot: whole.stateRoot,
      tau: whole.tau,
    });
    // A page asks for at most MAX_STATE_PAGE_UIDS; past the end is an empty last page.
    expect((await get('/ledger/state?from=9&limit=99999')).body).toMatchObject({
      from: 5,
      peers: [],
      uids: 5,
    });
    expect((await get('/ledger/state?from=-1')).status).toBe(400);
    expect((await get('/ledger/state?limit=abc')).status).toBe(400);
    // The summary: uid count and the top ranks, highest first, equal to the state's.
    const summary = (await get('/ledger/summary')).body as unknown as LedgerStateSummary;
    expect(summary).toMatchObject({ uids: 5, height: whole.height, stateRoot: whole.stateRoot });
    expect(summary).not.toHaveProperty('weights');
    const expected = whole.rank
      .map((rank, uid) => ({ uid, rank }))
      .sort((a, b) => b.rank - a.rank || a.uid - b.uid)
      .slice(0, Math.min(SUMMARY_TOP_UIDS, 5));
    expect(summary.top.map((t) => [t.uid, t.rank])).toEqual(expected.map((t) => [t.uid, t.rank]));
    expect(summary.top[0]!.peerId).toBe(whole.peers[expected[0]!.uid]);
    expect(summary.top[0]!.rank).toBeGreaterThan(summary.top[4]!.rank);
    expect(MAX_STATE_PAGE_UIDS).toBeGreaterThan(2);
  });

  it('cuts /ledger/blocks pages by bytes, says where to go on, and paging with `next` yields every block', async () => {
    const h = await harness(3);
    for (let i = 0; i < 20; i++) await h.producer.produceBlock();
    const all = await h.producer.blocksFrom(1, 1_000);
    expect(all).toHaveLength(21);
    const sizes = all.map((b) => Buffer.byteLength(JSON.stringify(b)));
    // Exactly blocks 2, 3 and 4 fit.
    const cap = sizes[1]! + sizes[2]! + sizes[3]!;
    const { base } = await serve(h, { maxBlocksPageBytes: cap });
    type Page = { blocks: BlockJson[]; next?: number };
    const page = async (from: number, limit = 100) =>
      (await (await fetch(`${base}/ledger/blocks?from=${from}&limit=${limit}`)).json()) as Page;
    const first = await page(2);
    expect(first.blocks.map((b) => b.height)).toEqual([2, 3, 4]);
    expect(first.next).toBe(5);
    // Not cut by bytes: no `next` (the limit or the chain's end stopped it).
    expect(await page(2, 2)).toEqual({ blocks: all.slice(1, 3) });
    // Paging on with `next` reads the whole chain once, each page within the cap.
    const heights: number[] = [];
    let from: number | undefined = 1;
    let pages = 0;
    while (from !== undefined) {
      const p = await page(from);
      heights.push(...p.blocks.map((b) => b.height));
      const bytes = p.blocks.reduce((n, b) => n + Buffer.byteLength(JSON.stringify(b)), 0);
      expect(bytes).toBeLessThanOrEqual(cap);
      from = p.next;
      pages++;
    }
    expect(heights).toEqual(all.map((b) => b.height));
    expect(pages).toBeGreaterThan(5);
  });

  it('sends a block larger than the byte cap alone rather than never', async () => {
    const h = await harness(2);
    await h.producer.produceBlock();
    const { base } = await serve(h, { maxBlocksPageBytes: 10 });
    const p = (await (await fetch(`${base}/ledger/blocks?from=1`)).json()) as {
      blocks: BlockJson[];
      next?: number;
    };
    expect(p.blocks.map((b) => b.height)).toEqual([1]);
    expect(p.next).toBe(2);
    const last = (await (await fetch(`${base}/ledger/blocks?from=2`)).json()) as {
      blocks: BlockJson[];
      next?: number;
    };
    expect(last.blocks.map((b) => b.height)).toEqual([2]);
    expect(last.next).toBeUndefined();
  });
});
