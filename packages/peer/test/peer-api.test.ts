import { InMemoryHub } from '@peerbench/mesh';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { denseRow } from '../src/chain.js';
import { LedgerChainClient } from '../src/ledger-chain.js';
import { encodeWeights } from '../src/model.js';
import { Peer } from '../src/peer.js';
import { MemoryStorage, STORAGE_KEYS } from '../src/storage.js';
import { localLedger, SMALL_MODEL, skewedTask, useWasm } from './helpers.js';

beforeAll(useWasm);
vi.setConfig({ testTimeout: 120_000 });

const dist = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Math.sqrt(Array.from(a).reduce((acc, v, i) => acc + (v - b[i]!) ** 2, 0));

describe('Peer.restore across model changes', () => {
  it('discards weights of another shape (the old sum head) but keeps identity and history', async () => {
    const storage = new MemoryStorage();
    const task = await skewedTask([0, 1], 1, 100);
    const base = { task, storage, backend: false as const, step: { batchSize: 8 }, autoRun: false };
    const old = await Peer.create({ ...base, model: { ...SMALL_MODEL, combine: 'sum' } });
    await old.start();
    for (let s = 0; s < 3; s++) await old.step();
    const history = old.getSnapshot().lossHistory;
    await old.stop();
    expect(old.runtime).toBeNull();

    const next = await Peer.create({ ...base, model: SMALL_MODEL });
    expect(next.peerId).toBe(old.peerId);
    await next.start();
    const snap = next.getSnapshot();
    expect(snap.status).toBe('running');
    expect(snap.error?.code).toBe('weights-discarded');
    expect(snap.error?.message).toMatch(/head\/w0/);
    expect(snap.step).toBe(3);
    expect(snap.lossHistory).toEqual(history);
    // Fresh, well-formed weights of the concat shape: it trains.
    expect(next.runtime!.head.spec.sizes[0]).toBe(SMALL_MODEL.maxExperts * SMALL_MODEL.representationSize);
    const r = await next.step();
    expect(Number.isFinite(r.loss)).toBe(true);
    // On stop it saves the new shape; a third start restores it without complaint.
    const saved = await next.runtime!.exportWeights();
    await next.stop();
    const third = await Peer.create({ ...base, model: SMALL_MODEL });
    await third.start();
    expect(third.getSnapshot().error).toBeNull();
    expect((await third.runtime!.exportWeights())['head/w0']!.data).toEqual(saved['head/w0']!.data);
    await third.stop();
  });

  it('discards unreadable bytes and stand-ins for slots the model does not have', async () => {
    const task = await skewedTask([2], 2, 100);
    const base = { task, backend: false as const, model: SMALL_MODEL, autoRun: false };
    const garbage = new MemoryStorage();
    await garbage.set(STORAGE_KEYS.weights, Uint8Array.of(200, 0, 0, 0, 1, 2));
    const a = await Peer.create({ ...base, storage: garbage });
    await a.start();
    expect(a.getSnapshot().error?.code).toBe('weights-discarded');
    const good = await a.runtime!.exportWeights();
    await a.stop();

    const extra = new MemoryStorage();
    const d = SMALL_MODEL.representationSize;
    const w = { ...good, 'standin9/b1': { shape: [d], data: new Float32Array(d) } };
    await extra.set(STORAGE_KEYS.weights, encodeWeights(w));
    const b = await Peer.create({ ...base, storage: extra });
    await b.start();
    expect(b.getSnapshot().error).toMatchObject({ code: 'weights-discarded' });
    expect((await b.runtime!.exportWeights())['encoder/w0']!.data).not.toEqual(good['encoder/w0']!.data);
    await b.stop();
  });
});

describe('caller-chosen weight rows', () => {
  it('targetRow steers the per-block submission, submitRow submits once; both bounded by ε', async () => {
    const epsilon = 0.25;
    const { producer, chain } = await localLedger(epsilon);
    const hub = new InMemoryHub();
    const seen: number[] = [];
    let copierUid = -1;
    const peers: Peer[] = [];
    for (let i = 0; i < 3; i++) {
      peers.push(
        await Peer.create({
          task: await skewedTask([i * 3, i * 3 + 1], i + 1, 150),
          network: (id) => hub.join(id.peerId),
          chain: (id) => new LedgerChainClient(chain, id),
          backend: false,
          model: { ...SMALL_MODEL, seed: i + 1 },
          step: { batchSize: 8 },
          autoRun: false,
          evalEverySteps: 0,
          pingEveryMs: 0,
          // Peer 0 copies: all its weight to uid 1, whatever it scored.
          ...(i === 0
            ? {
                targetRow: ({ state, uid, scored }) => {
                  copierUid = uid;
                  seen.push(scored.length);
                  const row = new Float64Array(state.peerIds.length);
                  row[state.peerIds.indexOf(peers[1]!.peerId)] = 1;
                  return row;
                },
              }
            : {}),
          // Peer 2 submits only by hand.
          ...(i === 2 ? { submitWeights: false } : {}),
        }),
      );
    }
    await expect(peers[2]!.submitRow(Float64Array.of(1))).rejects.toThrow(/not started/);
    await expect(peers[2]!.evaluateLive()).rejects.toThrow(/not started/);
    for (const p of peers) await p.start();
    for (let t = 0; t < 20 && peers.some((p) => p.getSnapshot().uid === null); t++) {
      await new Promise((r) => setTimeout(r, 20));
      await producer.produceBlock();
    }
    const uidOf = (p: Peer) => p.getSnapshot().uid!;
    const [u0, u1, u2] = peers.map(uidOf) as [number, number, number];
    const rowOf = (uid: number) => denseRow(new LedgerChainClient(chain, peers[0]!.identity).state()!, uid);
    for (let block = 0; block < 6; block++) {
      await Promise.all(peers.map((p) => p.step()));
      const before = rowOf(u0);
      await new Promise((r) => setTimeout(r, 20));
      await producer.produceBlock(); // onHead → submissions
      await new Promise((r) => setTimeout(r, 20));
      await producer.produceBlock(); // they land
      expect(dist(rowOf(u0), before)).toBeLessThanOrEqual(2 * epsilon + 1e-6);
    }
    expect(copierUid).toBe(u0);
    expect(seen.every((n) => n === 3)).toBe(true);
    // The copier's row went where targetRow said, not where its scorer pointed.
    expect(rowOf(u0)[u1]!).toBeGreaterThan(0.9);
    expect(peers[0]!.getSnapshot().stats!.weightTxsSubmitted).toBeGreaterThan(0);

    // Peer 2 never submitted by itself; one public submitRow moves it by at most ε towards the target.
    expect(peers[2]!.getSnapshot().stats?.weightTxsSubmitted ?? 0).toBe(0);
    const before = rowOf(u2);
    const target = new Float64Array(3);
    target[u0] = 0.5;
    target[u1] = 0.5;
    await peers[2]!.submitRow(target);
    await producer.produceBlock();
    const after = rowOf(u2);
    expect(dist(after, before)).toBeLessThanOrEqual(epsilon + 1e-6);
    expect(dist(after, target)).toBeLessThan(dist(before.some((w) => w > 0) ? before : unit(3, u2), target));
    expect(peers[2]!.getSnapshot().stats!.weightTxsSubmitted).toBe(1);
    await expect(peers[2]!.submitRow(Float64Array.of(1, 0))).rejects.toThrow(/entries/);
    await expect(peers[2]!.submitRow(Float64Array.of(Number.NaN, 0, 1))).rejects.toThrow(/NaN/);
    expect(peers[2]!.getSnapshot().error?.code).toBe('weights-rejected');

    // evaluateLive through the Peer.
    const ev = await peers[1]!.evaluateLive({ ablate: peers[0]!.peerId });
    expect(Number.isFinite(ev.loss)).toBe(true);
    for (const p of peers) await p.stop();
    await producer.stop();
  });
});

function unit(n: number, i: number): Float64Array {
  const r = new Float64Array(n);
  r[i] = 1;
  return r;
}
