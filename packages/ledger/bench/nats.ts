/**
 * Clustered-ledger bench → $PEERBENCH_BENCH_DIR/nats-ledger.json (default <repo>/bench-results/).
 * A 3-node JetStream cluster on loopback (R3 streams), three ledger instances
 * in this process (so their CPU is shared with the load generator):
 *  1. Throughput: closed-loop register-tx load at rising concurrency, spread
 *     over the instances; per stage the acknowledged txs/s through JetStream
 *     and the producer's block time (build + sign + append + applied) against
 *     its interval. Stops after the first stage whose median block time
 *     exceeds the interval.
 *  2. Failover: FAILOVERS times, the producer stops without handing back its
 *     lease (a crash); time until every survivor applied a block of the new
 *     producer. Compared with lease TTL + one block interval.
 */
import { loadavg } from 'node:os';
import { type Identity, identityFromSecretKey } from '@peerbench/protocol';
import { benchEntry } from '@peerbench/protocol/bench-entry';
import { createRegisterTx, defaultGenesis, genesisHash } from '../src/index.js';
import { type ClusterEvent, type ClusteredLedger, openClusteredLedger } from '../src/nats/index.js';
import { startNats } from '../src/nats/servers.js';

const { log, writeResult } = benchEntry(import.meta.url);

const BLOCK_INTERVAL_MS = 500;
const LEASE_TTL_MS = 2000;
const CONCURRENCY_STAGES = [4, 16, 64, 256];
const STAGE_TXS = 2500;
const STAGE_MAX_MS = 6000;
const FAILOVERS = 3;

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : 0);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function key(tag: number, i: number): Promise<Identity> {
  const s = new Uint8Array(32).fill(i & 0xff);
  s[0] = tag;
  s[1] = (i >> 8) & 0xff;
  s[2] = (i >> 16) & 0xff;
  return identityFromSecretKey(s);
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const cluster = await startNats({ size: 3 });
  const producers = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => key(200, i)));
  const genesis = defaultGenesis(producers[0]!.peerId, {
    chainId: 'nats-bench',
    timestampMs: Date.now(),
    producers: producers.map((p) => p.peerId),
  });
  const chain = genesisHash(genesis);
  const blocks: Array<{ at: number; by: string; height: number; txCount: number; blockTimeMs: number }> = [];
  const ledgers: ClusteredLedger[] = [];
  const open = async (k: number) => {
    const l: ClusteredLedger = await openClusteredLedger({
      servers: cluster.urls,
      genesis,
      identity: producers[k]!,
      instanceId: `i${k}`,
      replicas: 3,
      blockIntervalMs: BLOCK_INTERVAL_MS,
      leaseTtlMs: LEASE_TTL_MS,
      onEvent: (e: ClusterEvent) => {
        if (e.type === 'block-produced')
          blocks.push({
            at: Date.now(),
            by: l.instanceId,
            height: e.height,
            txCount: e.txCount,
            blockTimeMs: e.blockTimeMs,
          });
      },
    });
    ledgers.push(l);
    return l;
  };
  try {
    for (const k of [0, 1, 2]) await open(k);
    const live = () => ledgers.filter((l) => l.status().natsConnected);
    const waitFor = async (cond: () => boolean, timeoutMs: number) => {
      const end = Date.now() + timeoutMs;
      while (!cond()) {
        if (Date.now() > end) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await waitFor(() => ledgers.some((l) => l.role === 'producer' && l.height >= 2), 20_000);

    // 1. Throughput.
    const stages = [];
    let keyIndex = 0;
    for (const concurrency of CONCURRENCY_STAGES) {
      const txs: unknown[] = [];
      for (let i = 0; i < STAGE_TXS; i++) txs.push(await createRegisterTx(await key(201, keyIndex++), chain));
      const instances = live();
      let next = 0;
      let acked = 0;
      let refused = 0;
      const started = Date.now();
      const firstBlock = blocks.length;
      await Promise.all(
        Array.from({ length: concurrency }, async (_, w) => {
          while (next < txs.length && Date.now() - started < STAGE_MAX_MS) {
            const tx = txs[next++];
            const r = await instances[(w + next) % instances.length]!.submitTx(tx);
            if (r.ok) acked++;
            else refused++;
          }
        }),
      );
      const elapsedMs = Date.now() - started;
      const stageBlocks = blocks.slice(firstBlock).filter((b) => b.txCount > 0);
      const times = stageBlocks.map((b) => b.blockTimeMs);
      const stage = {
        concurrency,
        acked,
        refused,
        elapsedMs,
        ackedTxPerS: round((acked / elapsedMs) * 1000),
        blocksWithTxs: stageBlocks.length,
        medianTxsPerBlock: median(stageBlocks.map((b) => b.txCount)),
        medianBlockTimeMs: median(times),
        maxBlockTimeMs: times.length ? Math.max(...times) : 0,
        blockIntervalMs: BLOCK_INTERVAL_MS,
      };
      stages.push(stage);
      log(JSON.stringify(stage));
      // Let the producer drain the stage before the next one.
      const target = ledgers.find((l) => l.role === 'producer');
      await waitFor(() => (target?.state().peers.length ?? 0) >= keyIndex - refused, 30_000).catch(
        () => undefined,
      );
      if (stage.medianBlockTimeMs > BLOCK_INTERVAL_MS) break;
    }

    // 2. Failover.
    const failovers = [];
    for (let f = 0; f < FAILOVERS; f++) {
      const producer = ledgers.find((l) => l.role === 'producer');
      if (!producer) throw new Error('no producer');
      const survivors = ledgers.filter((l) => l !== producer && l.status().natsConnected);
      const height = producer.height;
      const killedAt = Date.now();
      await producer.stop({ releaseLease: false });
      ledgers.splice(ledgers.indexOf(producer), 1);
      await waitFor(
        () =>
          blocks.some((b) => b.at >= killedAt && b.by !== producer.instanceId && b.height > height) &&
          survivors.every((l) => l.height > height),
        30_000,
      );
      const ms = Date.now() - killedAt;
      failovers.push(ms);
      log(
        `failover ${f + 1}: ${ms} ms (lease TTL ${LEASE_TTL_MS} + block ${BLOCK_INTERVAL_MS} = ${LEASE_TTL_MS + BLOCK_INTERVAL_MS} ms)`,
      );
      await open(3 + f); // back to three instances
    }
    // The instances opened during the failovers replay the chain first: wait until all are at one head.
    const top = Math.max(...ledgers.map((l) => l.height));
    await waitFor(() => ledgers.every((l) => l.height >= top), 30_000);
    const atTop = await Promise.all(ledgers.map((l) => l.blocksFrom(top, 1)));
    const headHashes = new Set(atTop.map((b) => JSON.stringify(b[0] ?? null)));
    const result = {
      date: new Date().toISOString(),
      nats: 'nats-server 2.9.10, 3 nodes on loopback, R3 streams',
      instances: 3,
      blockIntervalMs: BLOCK_INTERVAL_MS,
      leaseTtlMs: LEASE_TTL_MS,
      loadavgBefore: loadBefore.map((x) => round(x, 2)),
      loadavgAfter: loadavg().map((x) => round(x, 2)),
      throughput: stages,
      failoverMs: failovers,
      failoverBoundMs: LEASE_TTL_MS + BLOCK_INTERVAL_MS,
      commonHeightAtEnd: top,
      sameBlockAtCommonHeight: headHashes.size === 1,
    };
    writeResult('nats-ledger.json', result);
  } finally {
    await Promise.all(ledgers.map((l) => l.stop().catch(() => undefined)));
    await cluster.stop();
  }
}

await main();
