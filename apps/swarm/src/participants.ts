/**
 * Who takes part in a swarm and how each is built: honest Peers (the code a
 * browser tab runs), and the adversaries (noise endpoints, weight copiers,
 * self-dealers). Everything random about a participant comes from --seed:
 * its identity key, its data draw and batch order, its weight init, its gate
 * noise and a noise endpoint's answers.
 */
import { createRng } from '@peerbench/mechanism';
import type { ExpertNetwork } from '@peerbench/mesh';
import {
  type ChainClient,
  type MnistDigits,
  MnistTask,
  type ModelOptions,
  noiseHandlers,
  Peer,
  type StepOptions,
} from '@peerbench/peer';
import { type Identity, identityFromSecretKey } from '@peerbench/protocol';
import { consensusRow, selfDealRow } from './adversaries.js';
import { qualityViews, type SwarmOptions } from './args.js';
import { classMixOf, dominantDigits } from './data.js';
import type { ParticipantKind, ParticipantRecord } from './record.js';
import type { RpcClock } from './timing.js';
import { TimedNetwork } from './timing.js';

/**
 * Model sizes the swarm gives every Peer (the rest comes from flags): small
 * enough that 16 peers train in one process on 2 cores, the same shapes the
 * sharing/fidelity results were measured with. The student of G predicts
 * every remote block at once ((slots − 1)·d outputs, 224 at 8 peers and
 * d = 32): at hidden 32 it was the bottleneck of offline accuracy (8 peers,
 * 500 steps, balance 0.5: offline ÷ live 0.85-0.92 at 32, 0.97-0.99 at 96,
 * docs/results/gate-balance.md). At depth 0 it changes nothing live: no
 * stand-in answers, so B is the same to the last digit.
 */
export const SWARM_MODEL: Pick<ModelOptions, 'encoderHidden' | 'headHidden' | 'standInHidden'> = {
  encoderHidden: 64,
  headHidden: 32,
  standInHidden: 96,
};

export interface Participant {
  index: number;
  kind: ParticipantKind;
  identity: Identity;
  /** The Peer (honest, copy, selfdeal); null for a noise endpoint. */
  peer: Peer | null;
  chain: ChainClient;
  /** A noise endpoint's stop-serving function. */
  unserve: (() => void) | null;
}

/** Participant kinds in index order: the honest peers first, then each adversary group. */
export function participantKinds(opts: SwarmOptions): ParticipantKind[] {
  const kinds: ParticipantKind[] = Array.from({ length: opts.peers }, () => 'honest');
  for (const a of opts.adversaries) for (let c = 0; c < a.count; c++) kinds.push(a.kind);
  // Newcomers last (newcomers.ts): good ones are honest Peers, then noise endpoints.
  for (let c = 0; c < (opts.newcomers?.good ?? 0); c++) kinds.push('honest');
  for (let c = 0; c < (opts.newcomers?.noise ?? 0); c++) kinds.push('noise');
  return kinds;
}

/** The honest peer a self-dealer copies everything from but its row: the middle one. */
export function selfDealTwin(opts: SwarmOptions): number {
  return Math.floor(opts.peers / 2);
}

/** Participant `index`'s identity, derived from the run's seed (the same command gives the same keys). */
export async function swarmIdentity(seed: number, index: number): Promise<Identity> {
  const rng = createRng(seed * 7919 + index + 17);
  const key = new Uint8Array(32);
  for (let b = 0; b < key.length; b++) key[b] = rng.int(256);
  return identityFromSecretKey(key);
}

/** What participant `index` is given: its data, view and seeds (a self-dealer: its twin's). */
export function participantRecord(
  opts: SwarmOptions,
  kinds: ParticipantKind[],
  index: number,
): ParticipantRecord {
  const kind = kinds[index]!;
  const sorted = [...opts.shardSizes].sort((a, b) => a - b);
  const medianShard = sorted[Math.floor(sorted.length / 2)]!;
  const twin = kind === 'selfdeal' ? selfDealTwin(opts) : null;
  const dataIndex = twin ?? index;
  const views = opts.quality === 'views' ? qualityViews(opts.peers) : null;
  return {
    index,
    kind,
    shardSize: kind === 'noise' ? 0 : (opts.shardSizes[dataIndex] ?? medianShard),
    dominantDigits: kind === 'noise' ? null : dominantDigits(dataIndex),
    stoppedAtStep: null,
    view: kind === 'noise' ? null : (views?.[dataIndex] ?? 1),
    twinOf: twin,
  };
}

export interface ParticipantContext {
  opts: SwarmOptions;
  digits: MnistDigits;
  /** One slot per participant, so every peer can be gated (and ablated). */
  slots: number;
  clock: RpcClock;
  connect(identity: Identity): Promise<{ net: ExpertNetwork; chain: ChainClient }>;
}

/** Creates, starts and (noise) registers one participant. */
export async function createParticipant(
  ctx: ParticipantContext,
  record: ParticipantRecord,
): Promise<Participant> {
  const { opts } = ctx;
  const { index, kind } = record;
  const identity = await swarmIdentity(opts.seed, index);
  const { net, chain } = await ctx.connect(identity);
  // Registered here, in participant order, before the next one is created:
  // the Peer's own registration (sent without waiting, from start()) would
  // race the next participant's, and uids (so R's summation order) would
  // depend on the machine's load. The Peer's later one is a harmless duplicate.
  await chain.ensureRegistered();
  if (kind === 'noise') {
    const unserve = net.serve(noiseHandlers(opts.dim, opts.seed * 31 + index));
    return { index, kind, identity, peer: null, chain, unserve };
  }
  const dataIndex = record.twinOf ?? index;
  const view = record.view ?? 1;
  const peer = await Peer.create({
    identity,
    task: () =>
      MnistTask.create({
        digits: ctx.digits,
        shardSize: record.shardSize,
        classMix: classMixOf(dataIndex, opts.skew),
        evalPerClass: Math.max(1, Math.floor(opts.evalSize / 10)),
        validationSize: opts.validationSize,
        seed: opts.seed * 100 + dataIndex,
      }),
    // Isolated: same model and budget, but no one to ask (the transport still carries its ledger traffic).
    network: opts.mode === 'shared' ? (new TimedNetwork(net, ctx.clock) satisfies ExpertNetwork) : null,
    chain,
    backend: false,
    autoRun: false,
    evalEverySteps: 0,
    saveEverySteps: 0,
    pingEveryMs: 0,
    scoreRouting: opts.scoreRouting,
    scoreEverySteps: opts.scoreEvery,
    maskTemperature: opts.temperature,
    server: { acceptRemoteGradients: opts.remoteGradients, remoteLearningRate: opts.remoteLearningRate },
    model: {
      ...SWARM_MODEL,
      representationSize: opts.dim,
      topK: opts.k,
      learningRate: opts.learningRate,
      balanceWeight: opts.balance,
      // Bounded neighbourhoods: one slot per link (and self); else one per participant.
      maxExperts: opts.degree !== null ? opts.degree + 1 : Math.max(2, ctx.slots),
      combine: opts.combine,
      answerDepth: opts.answerDepth,
      compositionInit: opts.pInit,
      seed: opts.seed * 1000 + dataIndex,
      ...(view < 1 ? { inputView: view } : {}),
      scoring: { removalSource: opts.scoring },
      youngSlots: opts.youngSlots,
    },
    step: {
      batchSize: opts.batch,
      // On the memory transport every answer comes (or fails) at once: wait for
      // all of them instead of k_min + a 50 ms grace, so a loaded machine cannot
      // turn a late answer into a stand-in and the same seed gives the same run.
      ...(opts.transport === 'memory' && !opts.server ? { kMin: Number.MAX_SAFE_INTEGER } : {}),
    } satisfies Partial<StepOptions>,
    ...(kind === 'copy' ? { targetRow: ({ state, uid }) => consensusRow(state, uid) } : {}),
    ...(kind === 'selfdeal' ? { targetRow: ({ state, uid }) => selfDealRow(state, uid) } : {}),
  });
  await peer.start();
  return { index, kind, identity, peer, chain, unserve: null };
}
