/**
 * The training soak of issue 18: N real Peers (train-agent.ts), each in its
 * own home behind an endpoint-independent NAT with the delay forwarder and
 * UDP loss on its link, the signaling server's own CLI with its embedded
 * ledger and coturn on the public segment; they train for `durationS` while
 * one home is cut off for `outageS`. Returns every step record, link event
 * and the chain's rows (soak-report.ts judges them). Everything it makes —
 * namespaces, veths, nft tables, processes — is removed before it returns or
 * throws.
 */
import { loadavg } from 'node:os';
import { type Coturn, startCoturn } from './coturn.js';
import { NetlabError } from './errors.js';
import { Lab } from './lab.js';
import { LabServer } from './lab-server.js';
import type { NatMode } from './nft.js';
import type { SoakChainRow, TrainingSoakResult } from './soak-report.js';
import { buildNatTopology, type NatTopology } from './topology.js';
import { TrainPeer } from './train-peer.js';

export interface TrainingSoakOptions {
  /** Training time, from the moment every peer is linked and registered. */
  durationS: number;
  /** When the cut host goes dark, after training starts. */
  outageAtS: number;
  /** 0: no outage. */
  outageS: number;
  /** Each peer stops after this many steps even before durationS is up (default: none). */
  maxSteps?: number;
  /** The homes' NAT: with `symmetric` no direct path exists and every link goes through coturn. */
  nat?: NatMode;
  /** Nominal round trip between two homes: four forwarder passes of rttMs/4 (0: no forwarder at all). */
  rttMs: number;
  /** Round-trip spread at the extremes (±): each pass draws rttMs/4 ± jitterMs/4. */
  jitterMs: number;
  /** UDP loss per one-way path (in %): each host drops lossPct/2 % each way (even numbers only). */
  lossPct: number;
  peers: number;
  seed: number;
  blockIntervalMs: number;
  /** Rest between a peer's steps (the machine has two cores for four trainers). */
  stepPauseMs: number;
  evalEverySteps: number;
  log?: (line: string) => void;
}

export const DEFAULT_TRAINING_SOAK: Omit<TrainingSoakOptions, 'log'> = {
  durationS: 600,
  outageAtS: 200,
  outageS: 20,
  rttMs: 80,
  jitterMs: 20,
  lossPct: 2,
  peers: 4,
  seed: 1,
  blockIntervalMs: 3_000,
  stepPauseMs: 50,
  evalEverySteps: 50,
};

/** Every link made and every peer registered, bounded. */
export const MESH_READY_TIMEOUT_MS = 90_000;
/** After the deadline: the step in flight, the backwards to settle, the summary. */
const RUN_SLACK_MS = 30_000;
const SERVER_PORT = 8400;
const TURN_SECRET = 'netlab-training-soak-secret-0123';
/** Favourite digits of peer i (most of its shard): peers differ, so they have something to learn from each other. */
const FAVOURITES = [
  [0, 1, 2],
  [3, 4, 5],
  [6, 7, 8],
  [9, 2, 5],
  [1, 4, 7],
  [0, 3, 6],
];

export interface TrainingSoakRun extends TrainingSoakResult {
  options: Omit<TrainingSoakOptions, 'log'>;
  /** The lab's run id: `Lab.existing(labRunId)` is empty once the soak returned. */
  labRunId: string;
  /** Lab built, servers up, agents started, links made, uids given: ms. */
  setupMs: number;
  load: { start: number[]; end: number[] };
  /** UDP packets the loss rules dropped, per home. */
  lossDropped: number[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** Resolves when cond() holds, re-checked on every message of the peers' agents; rejects after timeoutMs. */
function whenAll(
  peers: readonly TrainPeer[],
  cond: () => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const offs: Array<() => void> = [];
    const finish = (err?: Error) => {
      clearTimeout(timer);
      for (const off of offs) off();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new NetlabError('timeout', `${what}: not within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const check = () => {
      if (cond()) finish();
    };
    for (const p of peers) offs.push(p.agent.on(check));
    check();
  });
}

function checkOptions(o: TrainingSoakOptions): void {
  const bad = (m: string) => new NetlabError('invalid-argument', m);
  if (o.peers < 2 || o.peers > FAVOURITES.length) throw bad(`peers must be 2..${FAVOURITES.length}`);
  if (o.lossPct % 2 !== 0 || o.lossPct < 0)
    throw bad('lossPct must be an even number ≥ 0 (half on each host)');
  if (o.outageS > 0 && o.outageAtS + o.outageS >= o.durationS)
    throw bad('the outage must end before the run does');
  if ((o.rttMs !== 0 && o.rttMs < 4) || o.jitterMs < 0 || o.jitterMs > o.rttMs)
    throw bad('need rttMs = 0 or ≥ 4, and 0 ≤ jitterMs ≤ rttMs');
}

function chainRows(
  state: { peers: string[]; lastSetHeight: number[]; weights: Array<Array<[number, number]>> },
  peerIds: readonly string[],
): SoakChainRow[] {
  return peerIds.map((peerId) => {
    const uid = state.peers.indexOf(peerId);
    if (uid < 0) return { peerId, uid: null, lastSetHeight: 0, othersInRow: 0 };
    return {
      peerId,
      uid,
      lastSetHeight: state.lastSetHeight[uid] ?? 0,
      othersInRow: (state.weights[uid] ?? []).filter(([j, w]) => j !== uid && w > 0).length,
    };
  });
}

export async function runTrainingSoak(opts: TrainingSoakOptions): Promise<TrainingSoakRun> {
  checkOptions(opts);
  const { log = () => undefined, ...options } = opts;
  const t0 = Date.now();
  const loadStart = loadavg();
  const lab = Lab.create();
  let coturn: Coturn | null = null;
  let server: LabServer | null = null;
  const peers: TrainPeer[] = [];
  try {
    const shaping = { delayMs: opts.rttMs / 4, jitterMs: opts.jitterMs / 4 };
    const topo: NatTopology = await buildNatTopology(
      lab,
      Array.from({ length: opts.peers }, (_, i) => ({
        nat: opts.nat ?? 'endpoint-independent',
        ...(opts.rttMs > 0 ? { shaping: { ...shaping, seed: opts.seed * 100 + i + 1 } } : {}),
      })),
    );
    if (opts.lossPct > 0) for (const home of topo.homes) await home.setLoss(opts.lossPct / 2);
    coturn = await startCoturn(topo.public, { ip: topo.publicIp, secret: TURN_SECRET });
    server = await LabServer.start(topo.public, {
      host: topo.publicIp,
      port: SERVER_PORT,
      blockIntervalMs: opts.blockIntervalMs,
      stunUrls: [coturn.stunUrl],
      turnUrls: [coturn.turnUrl],
      turnSecret: TURN_SECRET,
    });
    log(`lab up (${Date.now() - t0} ms): ${opts.peers} homes, server ${server.url}`);
    const started = await Promise.allSettled(
      topo.homes.map((home, i) =>
        TrainPeer.start(home.host, {
          signalingUrl: server!.url,
          room: 'soak',
          seed: opts.seed * 100 + i + 1,
          favourites: FAVOURITES[i]!,
          favouriteShare: 0.9,
          shardSize: 500,
          model: {
            representationSize: 32,
            encoderHidden: 64,
            headHidden: 32,
            maxExperts: opts.peers,
            topK: 2,
            standInMinSteps: 3,
            distillEverySteps: 1,
          },
          // Wait for every routed answer (kMin above any count), up to the timeout: a missing answer then
          // means the peer is unreachable, not merely slower than the fastest one.
          step: { batchSize: 16, kMin: 64, graceMs: 0, forwardTimeoutMs: 4_000, wireDtype: 'fp16' },
          backend: 'wasm',
          evalEverySteps: opts.evalEverySteps,
        }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') peers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    await whenAll(
      peers,
      () => peers.every((p) => p.connectedPeers().length === opts.peers - 1),
      MESH_READY_TIMEOUT_MS,
      'every link connected',
    );
    const uids = await Promise.all(peers.map((p) => p.registered(MESH_READY_TIMEOUT_MS)));
    const setupMs = Date.now() - t0;
    log(`mesh ready, uids ${uids.join(',')} (${setupMs} ms after start)`);

    const runStartMs = Date.now();
    const runEndMs = runStartMs + opts.durationS * 1000;
    const runs = peers.map((p) => p.run(runEndMs, opts.stepPauseMs, RUN_SLACK_MS, opts.maxSteps));
    // A run that rejects early (agent died) must not go unhandled while the outage is timed.
    for (const r of runs) r.catch(() => undefined);
    let outage: TrainingSoakResult['outage'] = null;
    if (opts.outageS > 0) {
      const cut = topo.homes.at(-1)!;
      await sleep(runStartMs + opts.outageAtS * 1000 - Date.now());
      await cut.setOutage(true);
      const startMs = Date.now();
      log(`outage of home ${cut.index} begins at ${((startMs - runStartMs) / 1000).toFixed(1)} s`);
      await sleep(opts.outageS * 1000);
      await cut.setOutage(false);
      const endMs = Date.now();
      log(`outage ends at ${((endMs - runStartMs) / 1000).toFixed(1)} s`);
      outage = { home: cut.index, peerId: peers.at(-1)!.peerId, startMs, endMs };
    }
    const done = await Promise.all(runs);
    log(`training done: ${done.map((d) => d.steps).join(', ')} steps`);
    const state = await server.ledgerState();
    const lossDropped = await Promise.all(topo.homes.map((h) => h.lossDropped()));
    return {
      options,
      labRunId: lab.runId,
      setupMs,
      load: { start: loadStart, end: loadavg() },
      lossDropped,
      runStartMs,
      runEndMs: Math.min(runEndMs, Date.now()),
      outage,
      peers: peers.map((p, i) => ({
        peerId: p.peerId,
        home: i + 1,
        uid: done[i]!.uid,
        steps: p.steps(),
        links: p.linkEvents(),
        signaling: p.signalingStates(),
        stats: done[i]!.stats,
      })),
      chain: {
        height: state.height,
        rows: chainRows(
          state,
          peers.map((p) => p.peerId),
        ),
      },
    };
  } finally {
    // Peers first (their links close, coturn frees the allocations), then the server, coturn, the lab.
    await Promise.allSettled(peers.map((p) => p.stop()));
    await server?.stop().catch(() => undefined);
    await coturn?.stop().catch(() => undefined);
    await lab.destroy();
  }
}
