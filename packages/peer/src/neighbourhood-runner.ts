/**
 * Runs the neighbour policy (neighbour-policy.ts) for a Peer whose network
 * has a `neighbourhood` (issue 14): once per block it reads the peer's own
 * scores w_ij (the scorer's slot scores) and the ledger's R, lets the policy
 * decide, unlinks who is released and links new neighbours until the free
 * places are taken. The trainer's slots follow the links (`followLinks`:
 * a released slot is reset when its next holder takes it, slot-handover.ts),
 * and the expert server forgets a caller whose link closed.
 */
import { createRng } from '@peerbench/mechanism';
import type { ExpertNetwork, Neighbourhood } from '@peerbench/mesh';
import type { ChainState } from './chain.js';
import type { ExpertServer } from './expert-server.js';
import {
  applyNeighbourDecision,
  DEFAULT_NEIGHBOUR_POLICY_OPTIONS,
  NeighbourPolicy,
  type NeighbourPolicyOptions,
} from './neighbour-policy.js';
import type { NeighbourhoodView } from './state.js';
import type { Trainer } from './trainer.js';

/** PeerOptions.neighbours: the policy's settings and the seed of its exploration sample. */
export type NeighbourSettings = Partial<Omit<NeighbourPolicyOptions, 'maxLinks'>> & {
  /** Most neighbours (default: the transport's maxLinks, capped at the trainer's remote slots). */
  maxLinks?: number;
  /** Seed of the exploration sample (default: derived from the peer id). */
  seed?: number;
};

/** A stable 32-bit seed from a string (FNV-1a). */
function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class NeighbourhoodRunner {
  readonly policy: NeighbourPolicy;
  private readonly nb: Neighbourhood;
  private readonly unsubscribe: () => void;
  private busy: Promise<void> = Promise.resolve();
  private last: NeighbourhoodView;

  constructor(
    private readonly network: ExpertNetwork & { neighbourhood: Neighbourhood },
    private readonly trainer: Trainer,
    server: ExpertServer | null,
    private readonly uidOf: (peerId: string) => number | null,
    settings: NeighbourSettings = {},
  ) {
    this.nb = network.neighbourhood;
    const maxLinks = Math.min(settings.maxLinks ?? this.nb.maxLinks, trainer.slots.length - 1);
    const { seed, maxLinks: _ignored, ...rest } = settings;
    this.policy = new NeighbourPolicy(
      { ...DEFAULT_NEIGHBOUR_POLICY_OPTIONS, ...rest, maxLinks },
      createRng(seed ?? seedOf(network.selfId)),
    );
    trainer.followLinks = true;
    this.unsubscribe = network.on?.('peer-disconnected', (id) => server?.forgetCaller(id)) ?? (() => {});
    this.last = { maxLinks, networkSize: this.nb.candidates().roomSize, neighbours: [], triedCount: 0 };
  }

  /** The latest view (what PeerSnapshot.neighbourhood shows). */
  get view(): NeighbourhoodView {
    return this.last;
  }

  /**
   * One block's decision, applied (links open before it resolves). Calls do
   * not overlap: a block that arrives while the previous one is being applied
   * waits for it.
   */
  onBlock(state: ChainState | null): Promise<NeighbourhoodView> {
    const run = this.busy.then(() => this.decideAndApply(state));
    this.busy = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async decideAndApply(state: ChainState | null): Promise<NeighbourhoodView> {
    const height = state?.height ?? 0;
    const scores = this.trainer.scorer.slotScores();
    const slotOf = (id: string) => this.trainer.slots.indexOf(id);
    const score = (id: string): number | null => {
      const s = slotOf(id);
      return s > 0 ? (scores[s] ?? 0) : null;
    };
    const rank = (id: string): number | null => {
      const uid = this.uidOf(id);
      return uid === null || !state ? null : (state.ranks[uid] ?? null);
    };
    let candidates = this.nb.candidates();
    if (candidates.peerIds.filter((id) => !this.policy.hasTried(id)).length < this.policy.maxLinks)
      candidates = await this.nb.refreshCandidates();
    const decision = this.policy.decide({
      height,
      neighbours: this.network.peers(),
      candidates: candidates.peerIds,
      score,
      rank,
    });
    const linked = await applyNeighbourDecision(this.nb, decision);
    const neighbours = [
      ...decision.neighbours.map((n) => ({
        peerId: n.peerId,
        reason: n.reason,
        sinceHeight: n.sinceHeight,
        score: score(n.peerId),
        rank: rank(n.peerId),
      })),
      ...linked.map((peerId) => ({
        peerId,
        reason: 'exploring' as const,
        sinceHeight: height,
        score: null,
        rank: rank(peerId),
      })),
    ];
    this.last = {
      maxLinks: this.policy.maxLinks,
      networkSize: candidates.roomSize,
      neighbours,
      triedCount: this.policy.triedCount + linked.filter((id) => !this.policy.hasTried(id)).length,
    };
    return this.last;
  }

  stop(): void {
    this.unsubscribe();
  }

  /**
   * For a Peer: a runner when the network has a neighbourhood (else null)
   * that has already linked its first neighbours, and publishes each view.
   */
  static forPeer(ctx: {
    network: ExpertNetwork | null;
    trainer: Trainer;
    server: ExpertServer | null;
    settings: NeighbourSettings | undefined;
    uidOf: (peerId: string) => number | null;
    publish: (view: NeighbourhoodView) => void;
    state: ChainState | null;
  }): { onBlock(state: ChainState): void; stop(): void } | null {
    if (!ctx.network?.neighbourhood) return null;
    const network = ctx.network as ExpertNetwork & { neighbourhood: Neighbourhood };
    const runner = new NeighbourhoodRunner(network, ctx.trainer, ctx.server, ctx.uidOf, ctx.settings);
    const onBlock = (s: ChainState | null) => void runner.onBlock(s).then(ctx.publish, () => undefined);
    onBlock(ctx.state);
    return { onBlock, stop: () => runner.stop() };
  }
}
