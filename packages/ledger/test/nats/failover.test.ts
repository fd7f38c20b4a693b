/**
 * Failover on a 3-node JetStream cluster (R3 streams and lease bucket) with
 * three ledger instances under a steady tx load:
 *   1. the producing instance dies (stops without handing back its lease):
 *      another takes over once the lease expired;
 *   2. one NATS node of three is kill -9'd: production goes on.
 * Afterwards: every acknowledged tx is in the chain of every surviving
 * instance, the block stream holds each height exactly once, every chain
 * verifies from genesis and all heads are equal. The failover time is printed
 * (docs/results/nats-ledger.md), not asserted: wall-clock on a shared machine.
 */
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { genesisHash, type LedgerTransport, RemoteChain } from '../../src/index.js';
import { type ClusteredLedger, openClusteredLedger } from '../../src/nats/index.js';
import { type NatsCluster, startNats } from '../../src/nats/servers.js';
import {
  allBlocks,
  blockStreamHeights,
  clusterGenesis,
  registerTxs,
  sameVerifiedChain,
  txHashesOf,
} from './cluster-helpers.js';

const BLOCK_INTERVAL_MS = 250;
const LEASE_TTL_MS = 1500;

/** Bounded: a ledger whose NATS calls hang must not keep the cluster (and the next attempt) waiting. */
const STOP_WAIT_MS = 5000;

describe('clustered ledger failover (3-node JetStream cluster)', () => {
  // One retry: twice in CI (never here, alone or beside three busy loops) the first
  // block after the load started never arrived within 30 s; the diagnostics below are printed
  // when that happens, and each attempt starts its own cluster (see the issue notes).
  // A cause was found since: signing the 2,000 txs below blocks the event loop past the
  // lease's validity, the term ends and releases the lease while a renew is in flight, and
  // the renew took the lease back with no producer behind it, forever (lease.ts now frees
  // it; clustered.test.ts "producer lease" reproduces the race). The retry stays for starvation.
  it('producer death and a NATS node kill -9 lose no acknowledged tx and produce no height twice', {
    retry: 1,
    timeout: 150_000,
  }, async () => {
    const ledgers: ClusteredLedger[] = [];
    const cluster: NatsCluster = await startNats({ size: 3 });
    let loading = true;
    onTestFinished(async () => {
      loading = false;
      const bounded = (p: Promise<unknown>) =>
        Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, STOP_WAIT_MS))]);
      await bounded(Promise.all(ledgers.map((l) => l.stop())));
      await cluster.stop();
    });
    const t0 = Date.now();
    // Printed only if a wait below times out: what each instance was doing.
    const events: string[] = [];
    const explain = (e: unknown) => {
      console.log(events.join('\n'));
      console.log(ledgers.map((l) => JSON.stringify(l.status())).join('\n'));
      throw e;
    };
    const { genesis, keys } = await clusterGenesis(3);
    for (let k = 0; k < 3; k++)
      ledgers.push(
        await openClusteredLedger({
          servers: cluster.urls,
          genesis,
          identity: keys[k]!,
          instanceId: `i${k}`,
          replicas: 3,
          blockIntervalMs: BLOCK_INTERVAL_MS,
          leaseTtlMs: LEASE_TTL_MS,
          onEvent: (e) => {
            if (e.type !== 'block-produced') events.push(`${Date.now() - t0} i${k} ${JSON.stringify(e)}`);
          },
        }),
      );
    const producerOf = () => ledgers.find((l) => l.role === 'producer');
    await vi.waitFor(() => expect(producerOf()?.height ?? 0).toBeGreaterThanOrEqual(2), { timeout: 15_000 });

    // Load: 4 submitters, round robin over the live instances, each sending
    // TXS_PER_BLOCK txs per block (paced by block events, not timers) until told to stop.
    const TXS_PER_BLOCK = 4;
    const txs = await registerTxs(2000, genesisHash(genesis));
    const alive = new Set(ledgers);
    const acked = new Set<string>();
    let refused = 0;
    let next = 0;
    const nextBlock = () =>
      new Promise<void>((resolve) => {
        const offs = [...alive].map((l) =>
          l.onBlock(() => {
            for (const off of offs) off();
            resolve();
          }),
        );
      });
    const submitter = async (w: number) => {
      let turn = w;
      while (loading && next < txs.length) {
        for (let k = 0; k < TXS_PER_BLOCK && next < txs.length; k++) {
          const tx = txs[next++];
          const live = [...alive];
          const target = live[turn++ % live.length]!;
          const r = await target.submitTx(tx);
          if (r.ok) acked.add(r.hash);
          else refused++;
        }
        await nextBlock();
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(submitter));
    await vi
      .waitFor(() => expect(acked.size).toBeGreaterThan(60), { timeout: 30_000 })
      .catch((e) => {
        console.log(`acked ${acked.size}, refused ${refused}, next ${next}`);
        return explain(e);
      });

    // 1. The producer dies.
    const dead = producerOf()!;
    // A page's view: RemoteChain (the browser's verification code) on an instance that survives,
    // from height 1 (blocks announced from now on, then the stored ones: no gap).
    const served = ledgers.find((l) => l !== dead)!;
    const signers = new Set<string>();
    const invalid: string[] = [];
    const transport: LedgerTransport = {
      sendTx: (tx) => served.submitTx(tx),
      subscribe: (from, onBlock) => {
        const off = served.onBlock(({ block }) => {
          signers.add(block.producer);
          onBlock(block);
        });
        void served.blocksFrom(from, 100).then((bs) => {
          for (const b of bs) {
            signers.add(b.producer);
            onBlock(b);
          }
        });
        return off;
      },
    };
    const remote = new RemoteChain({ transport, genesis, onInvalidBlock: (e) => invalid.push(e.code) });
    remote.start();

    const deadHeight = dead.height;
    alive.delete(dead);
    const killedAt = Date.now();
    await dead.stop({ releaseLease: false });
    const survivors = [...alive];
    await vi
      .waitFor(
        () => {
          const p = survivors.find((l) => l.role === 'producer');
          expect(p).toBeDefined();
          // A block by the new producer has been applied everywhere that survived.
          expect(Math.min(...survivors.map((l) => l.height))).toBeGreaterThan(deadHeight + 1);
        },
        { timeout: 15_000, interval: 20 },
      )
      .catch(explain);
    const failoverMs = Date.now() - killedAt;
    const ackedBeforeNodeKill = acked.size;

    // 2. One NATS node of three vanishes.
    const heightAtNodeKill = Math.max(...survivors.map((l) => l.height));
    await cluster.nodes[1]!.kill9();
    await vi
      .waitFor(
        () => {
          expect(Math.min(...survivors.map((l) => l.height))).toBeGreaterThan(heightAtNodeKill + 5);
          expect(acked.size).toBeGreaterThan(ackedBeforeNodeKill + 60);
        },
        { timeout: 25_000, interval: 50 },
      )
      .catch(explain);
    loading = false;
    await load;

    // Every acknowledged tx is in every surviving chain.
    await vi
      .waitFor(
        async () => {
          for (const l of survivors) {
            const included = txHashesOf(await allBlocks(l));
            const missing = [...acked].filter((h) => !included.has(h));
            expect(missing).toEqual([]);
          }
        },
        { timeout: 20_000, interval: 200 },
      )
      .catch(explain);
    // Each chain verifies from genesis and they are one chain (same block at the common height).
    expect(await sameVerifiedChain(survivors)).toBeGreaterThan(heightAtNodeKill + 5);
    // The page followed across the failover: blocks of two producers, all verified.
    await vi.waitFor(() => expect(remote.height).toBeGreaterThanOrEqual(heightAtNodeKill + 5));
    remote.stop();
    expect(signers.size).toBeGreaterThanOrEqual(2);
    expect(invalid).toEqual([]);
    // The shared log holds each height exactly once, in order.
    const heights = await blockStreamHeights(cluster.urls, survivors[0]!.names.blockStream);
    expect(heights).toEqual(heights.map((_, i) => i + 1));
    // Nothing doubled: at most one uid per submitted registration (a refused
    // submission may still have been stored: its ack was what got lost).
    const peers = survivors[0]!.state().peers.length;
    expect(peers).toBeGreaterThanOrEqual(acked.size);
    expect(peers).toBeLessThanOrEqual(acked.size + refused);
    console.log(
      `[nats-failover] failover ${failoverMs} ms (lease TTL ${LEASE_TTL_MS} ms + block ${BLOCK_INTERVAL_MS} ms), ` +
        `acked ${acked.size}, refused while NATS recovered ${refused}, height ${heights.length}, ` +
        `lease changes ${events.filter((e) => e.includes('lease-acquired')).length}`,
    );
  });
});
