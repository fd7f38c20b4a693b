/**
 * How long block production pauses when one NATS node of three is kill -9'd
 * → $PEERBENCH_BENCH_DIR/nats-node-kill.json (default <repo>/bench-results/).
 *
 * Each trial: a fresh 3-node JetStream cluster on loopback, three ledger
 * instances (R3 streams and lease bucket, every instance given all three
 * URLs), no tx load (empty blocks still come every interval). Once blocks
 * flow, one node is killed, chosen by what it leads at that moment:
 *   block-leader  the Raft leader of the block stream (appends need it)
 *   lease-leader  the leader of the lease bucket's stream (renewals need it)
 *   tx-leader     the leader of the tx stream, when it leads neither of the above
 *   neither       a node leading none of the three (when there is one)
 * Measured from the kill: the longest gap between two blocks produced
 * around it (the pause: from the last block before the kill, until
 * AFTER_RECOVERY_BLOCKS blocks came after both streams had a leader again),
 * when the block and lease streams have a leader again (polled every 100 ms),
 * and the instances' lease and produce events.
 */
import { loadavg } from 'node:os';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { identityFromSecretKey } from '@peerbench/protocol';
import { benchEntry } from '@peerbench/protocol/bench-entry';
import { defaultGenesis } from '../src/index.js';
import { type ClusteredLedger, DEFAULT_LEASE_TTL_MS, openClusteredLedger } from '../src/nats/index.js';
import { startNats } from '../src/nats/servers.js';

const { log, writeResult } = benchEntry(import.meta.url);

const BLOCK_INTERVAL_MS = Number(process.env.BENCH_BLOCK_INTERVAL_MS ?? 500);
const LEASE_TTL_MS = Number(process.env.BENCH_LEASE_TTL_MS ?? DEFAULT_LEASE_TTL_MS);
const TRIALS_PER_ROLE = Number(process.env.BENCH_TRIALS ?? 2);
const ALL_ROLES = ['block-leader', 'lease-leader', 'tx-leader', 'neither'] as const;
type Role = (typeof ALL_ROLES)[number];
/** BENCH_ROLES=tx-leader,neither: only these. */
const ROLES: readonly Role[] = process.env.BENCH_ROLES
  ? ALL_ROLES.filter((r) => process.env.BENCH_ROLES?.split(',').includes(r))
  : ALL_ROLES;
const RECOVERY_TIMEOUT_MS = 30_000;
const POLL_MS = 100;
const AFTER_RECOVERY_BLOCKS = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function trial(role: Role, n: number) {
  const cluster = await startNats({ size: 3 });
  const keys = await Promise.all(
    [0, 1, 2].map((i) => identityFromSecretKey(new Uint8Array(32).fill(90 + i))),
  );
  const genesis = defaultGenesis(keys[0]!.peerId, {
    chainId: `node-kill-${role}-${n}`,
    timestampMs: Date.now(),
    producers: keys.map((k) => k.peerId),
  });
  const t0 = { at: 0 };
  const produced: number[] = [];
  const events: string[] = [];
  const ledgers: ClusteredLedger[] = [];
  const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  try {
    for (const [i, k] of keys.entries())
      ledgers.push(
        await openClusteredLedger({
          servers: cluster.urls,
          genesis,
          identity: k,
          instanceId: `i${i}`,
          replicas: 3,
          blockIntervalMs: BLOCK_INTERVAL_MS,
          leaseTtlMs: LEASE_TTL_MS,
          onEvent: (e) => {
            if (e.type === 'block-produced') produced.push(Date.now());
            else if (t0.at)
              events.push(
                `${Date.now() - t0.at} ms i${i} ${e.type}${'message' in e ? `: ${e.message.slice(0, 120)}` : ''}`,
              );
          },
        }),
      );
    const names = ledgers[0]!.names;
    const jsm = await jetstreamManager(nc, { timeout: 1000 });
    const leaderOf = async (stream: string) =>
      (await jsm.streams.info(stream).catch(() => undefined))?.cluster?.leader ?? undefined;
    const leaseStream = `KV_${names.leaseBucket}`;
    while (produced.length < 4) await sleep(50);
    const blockLeader = await leaderOf(names.blockStream);
    const leaseLeader = await leaderOf(leaseStream);
    const txLeader = await leaderOf(names.txStream);
    const others = [blockLeader, leaseLeader];
    const victim =
      role === 'block-leader'
        ? blockLeader
        : role === 'lease-leader'
          ? leaseLeader
          : role === 'tx-leader'
            ? others.includes(txLeader)
              ? undefined
              : txLeader
            : cluster.nodes.map((x) => x.name).find((x) => ![...others, txLeader].includes(x));
    if (!victim)
      return { role, skipped: `no such node (block ${blockLeader}, lease ${leaseLeader}, tx ${txLeader})` };
    const producerBefore = ledgers.find((l) => l.role === 'producer')?.instanceId;
    t0.at = Date.now();
    await cluster.nodes.find((x) => x.name === victim)!.kill9();
    let blockLeaderBackMs: number | undefined;
    let leaseLeaderBackMs: number | undefined;
    const recovered = () => {
      if (blockLeaderBackMs === undefined || leaseLeaderBackMs === undefined) return false;
      const back = t0.at + Math.max(blockLeaderBackMs, leaseLeaderBackMs);
      return produced.filter((at) => at > back).length >= AFTER_RECOVERY_BLOCKS;
    };
    while (Date.now() - t0.at < RECOVERY_TIMEOUT_MS && !recovered()) {
      const now = Date.now() - t0.at;
      const [b, l] = await Promise.all([leaderOf(names.blockStream), leaderOf(leaseStream)]);
      if (blockLeaderBackMs === undefined && b && b !== victim) blockLeaderBackMs = now;
      if (leaseLeaderBackMs === undefined && l && l !== victim) leaseLeaderBackMs = now;
      await sleep(POLL_MS);
    }
    const around = produced.filter(
      (at, i) => at > t0.at || produced[i + 1] === undefined || produced[i + 1]! > t0.at,
    );
    const gaps = around.slice(1).map((at, i) => at - around[i]!);
    const pauseMs = recovered() ? Math.max(...gaps) : undefined;
    const result = {
      role,
      victim,
      blockLeaderBefore: blockLeader,
      leaseLeaderBefore: leaseLeader,
      txLeaderBefore: txLeader,
      producerBefore,
      producerAfter: ledgers.find((l) => l.role === 'producer')?.instanceId,
      /** Longest gap between consecutive blocks around the kill (undefined: not recovered in RECOVERY_TIMEOUT_MS). */
      pauseMs,
      firstBlockAfterKillMs: (produced.find((at) => at > t0.at) ?? Number.NaN) - t0.at,
      blockStreamLeaderBackMs: blockLeaderBackMs,
      leaseStreamLeaderBackMs: leaseLeaderBackMs,
      events,
    };
    log(JSON.stringify(result));
    return result;
  } finally {
    await Promise.all(ledgers.map((l) => Promise.race([l.stop().catch(() => undefined), sleep(5000)])));
    await nc.close().catch(() => undefined);
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0] ?? 0;
  const trials = [];
  for (let n = 0; n < TRIALS_PER_ROLE; n++) for (const role of ROLES) trials.push(await trial(role, n));
  const result = {
    date: new Date().toISOString(),
    nats: 'nats-server 2.9.10, 3 nodes on loopback, R3 streams and lease bucket',
    blockIntervalMs: BLOCK_INTERVAL_MS,
    leaseTtlMs: LEASE_TTL_MS,
    loadAverage1m: { before: loadBefore, after: loadavg()[0] ?? 0 },
    trials,
  };
  writeResult('nats-node-kill.json', result);
}

await main();
process.exit(0);
