/**
 * The clustered ledger against real nats-server processes (no mocks): a
 * single JetStream server for the basic contract, a 3-node JetStream cluster
 * (R3 streams) for failover. Ledger instances run in this process; "killing"
 * one stops it without handing back its lease, as a crash would.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { buildBlock } from '../../src/block-builder.js';
import { genesisHash, LightClient } from '../../src/index.js';
import {
  type ClusteredLedger,
  type InvalidBlockReport,
  openClusteredLedger,
  ProducerLease,
} from '../../src/nats/index.js';
import { type NatsCluster, startNats } from '../../src/nats/servers.js';
import { SqliteStore } from '../../src/sqlite-store.js';
import { identities } from '../helpers.js';
import {
  allBlocks,
  blockStreamHeights,
  clusterGenesis,
  registerTxs,
  sameVerifiedChain,
  txHashesOf,
  verifyFromGenesis,
} from './cluster-helpers.js';

const clusters: NatsCluster[] = [];
const ledgers: ClusteredLedger[] = [];
afterEach(async () => {
  await Promise.all(ledgers.splice(0).map((l) => l.stop().catch(() => undefined)));
});
afterAll(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.stop()));
});

async function nats(size: number): Promise<NatsCluster> {
  const c = await startNats({ size });
  clusters.push(c);
  return c;
}

describe('nats-server harness', () => {
  it('starts a server on a free port with its own store dir and removes both on stop', async () => {
    const c = await startNats({ size: 1 });
    const node = c.nodes[0]!;
    expect(node.running).toBe(true);
    const nc = await connect({ servers: c.urls });
    await nc.flush();
    await nc.close();
    await c.stop();
    expect(node.running).toBe(false);
    expect(existsSync(node.spec.storeDir)).toBe(false);
  });
});

describe('clustered ledger on one JetStream server', () => {
  it('two instances share one chain: txs accepted by either land in it, both serve the same head', async () => {
    const c = await nats(1);
    const { genesis, keys } = await clusterGenesis(2);
    const invalid: InvalidBlockReport[] = [];
    const open = (k: number) =>
      openClusteredLedger({
        servers: c.urls,
        genesis,
        identity: keys[k]!,
        instanceId: `i${k}`,
        blockIntervalMs: 150,
        leaseTtlMs: 1500,
        onInvalidBlock: (r) => invalid.push(r),
      });
    const a = await open(0);
    const b = await open(1);
    ledgers.push(a, b);
    await vi.waitFor(() => expect(a.height).toBeGreaterThanOrEqual(1), { timeout: 10_000 });
    // Exactly one of them produces.
    expect([a.role, b.role].filter((r) => r === 'producer')).toHaveLength(1);

    const txs = await registerTxs(20, genesisHash(genesis));
    // Every tx goes to one instance, then to the other: the second answer is ok
    // (JetStream stored it once, deduped by tx hash) or duplicate-key (already
    // included); either way it is included once.
    const results = await Promise.all(txs.map((tx, i) => (i % 2 ? a : b).submitTx(tx)));
    const again = await Promise.all(txs.map((tx, i) => (i % 2 ? b : a).submitTx(tx)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(again.every((r) => r.ok || r.code === 'duplicate-key')).toBe(true);
    // Bad input is refused at the wire, before NATS.
    expect(await a.submitTx({ type: 'register' })).toMatchObject({ ok: false, code: 'malformed' });

    const hashes = results.map((r) => (r.ok ? r.hash : ''));
    await vi.waitFor(
      async () => {
        for (const l of [a, b]) {
          const included = txHashesOf(await allBlocks(l));
          for (const h of hashes) expect(included.has(h)).toBe(true);
        }
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(a.state().peers.length).toBe(20);
    expect(txHashesOf(await allBlocks(a)).size).toBe(
      (await allBlocks(a)).reduce((n, bl) => n + bl.txs.length, 0),
    );

    // The LedgerHook serves the replicated chain over HTTP, as the embedded one does.
    const server: Server = createServer((req, res) => {
      void b.hook.handleHttp(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const head = (await (await fetch(`http://127.0.0.1:${port}/ledger/head`)).json()) as { height: number };
      expect(head.height).toBeGreaterThanOrEqual(2);
      const posted = await fetch(`http://127.0.0.1:${port}/ledger/tx`, { method: 'POST', body: '{"x":1}' });
      expect(posted.status).toBe(400);
    } finally {
      await new Promise((r) => server.close(r));
    }

    expect(await sameVerifiedChain([a, b])).toBeGreaterThanOrEqual(2);
    const heights = await blockStreamHeights(c.urls, a.names.blockStream);
    expect(heights).toEqual(heights.map((_, i) => i + 1));
    expect(invalid).toEqual([]);
  }, 40_000);

  it('refuses a block appended on a stale sequence; followers skip a block signed by an unlisted key', async () => {
    const c = await nats(1);
    const { genesis, keys } = await clusterGenesis(1);
    const invalid: InvalidBlockReport[] = [];
    const a = await openClusteredLedger({
      servers: c.urls,
      genesis,
      identity: keys[0]!,
      blockIntervalMs: 100,
      leaseTtlMs: 1500,
      onInvalidBlock: (r) => invalid.push(r),
    });
    ledgers.push(a);
    await vi.waitFor(() => expect(a.height).toBeGreaterThanOrEqual(3), { timeout: 10_000 });

    const nc = await connect({ servers: c.urls });
    try {
      const js = jetstream(nc);
      // A stale producer: a valid block (listed key) built on an old head, appended
      // with the sequence it believed was last. JetStream refuses it.
      const stale = new LightClient(genesis);
      for (const b of await a.blocksFrom(1, 1)) await stale.apply(b);
      const staleBlock = await buildBlock(stale.state, [], keys[0]!, Date.now(), 256);
      await expect(
        js.publish(a.names.blockSubject, JSON.stringify(staleBlock.block.json), {
          expect: { lastSequence: 1 },
        }),
      ).rejects.toThrow(/wrong last sequence/);

      // An outsider's block at the right sequence does land on the stream, but no follower accepts it.
      const [outsider] = await identities(1, 99);
      const seenHeight = a.height;
      // Race the producer for the next sequence until the forged block gets it.
      await vi.waitFor(
        async () => {
          const seq = a.lastAppliedSeq;
          const forged = await buildBlock(a.ledgerState, [], outsider!, Date.now(), 256);
          await js.publish(a.names.blockSubject, JSON.stringify(forged.block.json), {
            expect: { lastSequence: seq },
          });
        },
        { timeout: 10_000, interval: 10 },
      );
      await vi.waitFor(() => expect(invalid.map((r) => r.code)).toContain('bad-producer-signature'));
      // Production goes on past the skipped message; the chain still verifies from genesis.
      await vi.waitFor(() => expect(a.height).toBeGreaterThan(seenHeight + 2), { timeout: 10_000 });
      const v = await verifyFromGenesis(a);
      expect(v.height).toBe((await allBlocks(a)).length);
      for (const b of await allBlocks(a)) expect(b.producer).toBe(keys[0]!.peerId);
    } finally {
      await nc.close();
    }
  }, 30_000);

  it('an instance on SQLite restarts from its own store and catches up', async () => {
    const c = await nats(1);
    const { genesis, keys } = await clusterGenesis(2);
    const dir = mkdtempSync(join(tmpdir(), 'peerbench-nats-sqlite-'));
    const path = join(dir, 'ledger.db');
    const common = { servers: c.urls, genesis, blockIntervalMs: 100, leaseTtlMs: 1500 };
    try {
      const a = await openClusteredLedger({ ...common, identity: keys[0]!, instanceId: 'a' });
      ledgers.push(a);
      const firstStore = new SqliteStore(path);
      const b = await openClusteredLedger({
        ...common,
        identity: keys[1]!,
        instanceId: 'b',
        store: firstStore,
      });
      await vi.waitFor(() => expect(b.height).toBeGreaterThanOrEqual(3), { timeout: 10_000 });
      await b.stop();
      await firstStore.close();
      const stoppedAt = b.height;
      // The chain goes on without it (a takes over if b was producing).
      await vi.waitFor(() => expect(a.height).toBeGreaterThan(stoppedAt + 3), { timeout: 10_000 });

      const store = new SqliteStore(path);
      expect(await store.headHeight()).toBe(stoppedAt);
      const again = await openClusteredLedger({ ...common, identity: keys[1]!, instanceId: 'b2', store });
      ledgers.push(again);
      // Verified from its own store on open, then only the missing blocks from the stream.
      expect(again.height).toBeGreaterThanOrEqual(stoppedAt);
      const target = a.height;
      await vi.waitFor(() => expect(again.height).toBeGreaterThanOrEqual(target), { timeout: 10_000 });
      expect(await sameVerifiedChain([a, again])).toBeGreaterThanOrEqual(target);
      await again.stop();
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('producer lease', () => {
  it('a renew still in flight when the lease is released does not bring it back', async () => {
    const c = await nats(1);
    const nc = await connect({ servers: c.urls });
    try {
      const kv = await new Kvm(nc).create(`LEASE_RACE_${Math.random().toString(36).slice(2, 8)}`, {
        ttl: 60_000,
        history: 1,
      });
      const a = new ProducerLease(kv, 'producer', { instanceId: 'a', peerId: 'a' }, 60_000);
      const b = new ProducerLease(kv, 'producer', { instanceId: 'b', peerId: 'b' }, 60_000);
      expect(await a.tryAcquire()).toBe(true);
      // The renew's update reaches JetStream before the release's delete (one
      // connection keeps order), so the delete at the old revision is refused:
      // the race that left an instance renewing a lease it produced nothing under.
      const renewing = a.renew();
      await a.release();
      expect(await renewing).toBe(false);
      expect(a.held).toBe(false);
      // The key is free: another instance takes it at once, not after the (60 s) TTL.
      expect(await b.tryAcquire()).toBe(true);
      expect(await a.holder()).toEqual({ instanceId: 'b', peerId: 'b' });
    } finally {
      await nc.close();
    }
  });
});
