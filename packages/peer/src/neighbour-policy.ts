/**
 * The neighbour policy of issue 14 (DESIGN.md step 7): once per block, which
 * of the room's members this peer keeps links to. Pure bookkeeping over ids
 * and numbers (no tfjs, no transport), so it is tested on its own and the
 * runner (neighbourhood-runner.ts) only applies what it decides.
 *
 * - Keep who earns: a neighbour's merit is its share of this peer's own
 *   scores w_ij among the neighbours, mixed with its share of the ledger's
 *   R_j among them (`rankShare`).
 * - Rotate who does not: the neighbour with the lowest merit, among those
 *   held for at least `trialBlocks` blocks, is released once it has been the
 *   lowest for `dropAfterBlocks` consecutive blocks, at most one per block,
 *   and only while there is someone untried to take its place (no thrash: a
 *   peer that has tried everyone keeps what it has).
 * - Explore: free places are offered to a random sample of members not yet
 *   tried (never linked, not refused lately, offered fewer than `maxOffers`
 *   times: one that is always full stops counting). A link can be refused (the
 *   other side is full), so each free place gets a few candidates in order,
 *   then peers tried before (highest R first) so a place does not stay empty
 *   once everyone has been tried.
 *   Since every full peer frees a place every `dropAfterBlocks` blocks while
 *   it has untried candidates and fills it with one chosen at random, a
 *   newcomer is tried within a bounded number of blocks in expectation.
 * - Every neighbour carries its reason: 'exploring' for its first
 *   `trialBlocks` blocks (it cannot be dropped yet: it has not been scored),
 *   'kept' after.
 */
import type { Rng } from '@peerbench/mechanism';
import type { Neighbourhood } from '@peerbench/mesh';
import type { NeighbourReason } from './state.js';

export interface NeighbourPolicyOptions {
  /** D: most neighbours at once. */
  maxLinks: number;
  /** K: a neighbour that stays the lowest for this many consecutive blocks is released. */
  dropAfterBlocks: number;
  /** Blocks a new neighbour is held before it can be released (it needs time to be scored). */
  trialBlocks: number;
  /** Weight of the ledger's R against this peer's own w_ij in a neighbour's merit, in [0, 1]. */
  rankShare: number;
  /** Candidates offered per free place (the first that accepts takes it). */
  candidatesPerPlace: number;
  /** A refused candidate is not offered again for this many blocks. */
  refusedCooldownBlocks: number;
  /** An untried candidate offered this many times without a link counts as tried (it stays full). */
  maxOffers: number;
}

export const DEFAULT_NEIGHBOUR_POLICY_OPTIONS: Omit<NeighbourPolicyOptions, 'maxLinks'> = {
  dropAfterBlocks: 3,
  trialBlocks: 3,
  rankShare: 0.5,
  candidatesPerPlace: 3,
  refusedCooldownBlocks: 2,
  maxOffers: 3,
};

export interface NeighbourPolicyInput {
  /** The block this decision is for. */
  height: number;
  /** Peers linked now (incoming links included). */
  neighbours: readonly string[];
  /** Known members of the room other than self (may include neighbours). */
  candidates: readonly string[];
  /** This peer's own score w_ij for a neighbour (null: not scored yet). */
  score(peerId: string): number | null;
  /** The ledger's R_j (null: no uid yet). */
  rank(peerId: string): number | null;
}

export interface NeighbourState {
  peerId: string;
  reason: NeighbourReason;
  /** The block from which it holds its place. */
  sinceHeight: number;
  /** Merit used to compare neighbours (own-score share and R share mixed), in [0, 1]. */
  merit: number;
}

export interface NeighbourDecision {
  /** Neighbours to release (at most one). */
  drop: string[];
  /** Free places after the drop. */
  freePlaces: number;
  /**
   * Candidates to offer the free places to, in order: link until `freePlaces`
   * accepted. Untried ones first (a random sample), then peers tried before.
   */
  link: string[];
  /** The neighbours kept, with their reason. */
  neighbours: NeighbourState[];
}

interface Held {
  sinceHeight: number;
  lowestFor: number;
}

/** Shares of `values` (negatives and non-finite as 0); all zero when nothing is positive. */
function shares(values: number[]): number[] {
  const clean = values.map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const sum = clean.reduce((a, v) => a + v, 0);
  return clean.map((v) => (sum > 0 ? v / sum : 0));
}

export class NeighbourPolicy {
  private readonly opts: NeighbourPolicyOptions;
  private readonly held = new Map<string, Held>();
  /** Peers ever linked to (incoming or outgoing). */
  private readonly triedIds = new Set<string>();
  /** Offered and not (yet) linked: the height of the last offer and how many offers. */
  private readonly offeredAt = new Map<string, number>();
  private readonly offers = new Map<string, number>();

  constructor(
    opts: Partial<NeighbourPolicyOptions> & Pick<NeighbourPolicyOptions, 'maxLinks'>,
    private readonly rng: Rng,
  ) {
    this.opts = { ...DEFAULT_NEIGHBOUR_POLICY_OPTIONS, ...opts };
    const { maxLinks, dropAfterBlocks, trialBlocks, rankShare, candidatesPerPlace } = this.opts;
    if (!(Number.isSafeInteger(maxLinks) && maxLinks >= 0))
      throw new RangeError(`maxLinks must be a non-negative integer, got ${maxLinks}`);
    if (!(Number.isSafeInteger(dropAfterBlocks) && dropAfterBlocks >= 1))
      throw new RangeError(`dropAfterBlocks must be an integer >= 1, got ${dropAfterBlocks}`);
    if (!(Number.isSafeInteger(trialBlocks) && trialBlocks >= 0))
      throw new RangeError(`trialBlocks must be a non-negative integer, got ${trialBlocks}`);
    if (!(rankShare >= 0 && rankShare <= 1))
      throw new RangeError(`rankShare must be in [0, 1], got ${rankShare}`);
    if (!(Number.isSafeInteger(candidatesPerPlace) && candidatesPerPlace >= 1))
      throw new RangeError(`candidatesPerPlace must be an integer >= 1, got ${candidatesPerPlace}`);
  }

  get maxLinks(): number {
    return this.opts.maxLinks;
  }

  /** Peers linked at least once since start. */
  get triedCount(): number {
    return this.triedIds.size;
  }

  hasTried(peerId: string): boolean {
    return this.triedIds.has(peerId);
  }

  /** One block's decision. Call once per block with the links as they are now. */
  decide(input: NeighbourPolicyInput): NeighbourDecision {
    const { height } = input;
    const o = this.opts;
    const current = [...new Set(input.neighbours)];
    const linked = new Set(current);
    for (const id of [...this.held.keys()]) if (!linked.has(id)) this.held.delete(id);
    for (const id of current) {
      if (!this.held.has(id)) this.held.set(id, { sinceHeight: height, lowestFor: 0 });
      this.triedIds.add(id);
      this.offeredAt.delete(id);
      this.offers.delete(id);
    }
    const own = shares(current.map((id) => input.score(id) ?? 0));
    const ranks = shares(current.map((id) => input.rank(id) ?? 0));
    const merit = new Map(
      current.map((id, q) => [id, (1 - o.rankShare) * own[q]! + o.rankShare * ranks[q]!]),
    );
    const isTrial = (id: string) => height - this.held.get(id)!.sinceHeight < o.trialBlocks;

    const explorable = input.candidates.filter(
      (id) =>
        !linked.has(id) &&
        !this.triedIds.has(id) &&
        (this.offers.get(id) ?? 0) < o.maxOffers &&
        height - (this.offeredAt.get(id) ?? Number.NEGATIVE_INFINITY) >= o.refusedCooldownBlocks,
    );

    // The lowest of the neighbours past their trial (ties: the longest held, then the id).
    const eligible = current.filter((id) => !isTrial(id));
    eligible.sort(
      (a, b) =>
        merit.get(a)! - merit.get(b)! ||
        this.held.get(a)!.sinceHeight - this.held.get(b)!.sinceHeight ||
        (a < b ? -1 : a > b ? 1 : 0),
    );
    const lowest = eligible[0];
    for (const id of current) if (id !== lowest) this.held.get(id)!.lowestFor = 0;
    const drop: string[] = [];
    // Being the lowest counts only while someone untried could take the place:
    // a peer that has tried everyone keeps its neighbours (no thrash).
    if (lowest !== undefined && explorable.length > 0) {
      const h = this.held.get(lowest)!;
      h.lowestFor++;
      if (h.lowestFor >= o.dropAfterBlocks && current.length >= o.maxLinks) {
        drop.push(lowest);
        this.held.delete(lowest);
      }
    }
    // More links than places (incoming links beyond a cap that shrank): release the lowest extras.
    const keep = current.filter((id) => !drop.includes(id));
    while (keep.length > o.maxLinks) {
      const extra = eligible.find((id) => keep.includes(id)) ?? keep[keep.length - 1]!;
      keep.splice(keep.indexOf(extra), 1);
      drop.push(extra);
      this.held.delete(extra);
    }

    const freePlaces = Math.max(0, o.maxLinks - keep.length);
    const wanted = freePlaces * o.candidatesPerPlace;
    const explore = this.sample(explorable, wanted);
    // When exploration cannot fill the places (nobody untried, or they refuse),
    // fall back on peers tried before, highest R first (not one released now).
    const known = input.candidates.filter(
      (id) =>
        !linked.has(id) &&
        this.triedIds.has(id) &&
        !drop.includes(id) &&
        height - (this.offeredAt.get(id) ?? Number.NEGATIVE_INFINITY) >= o.refusedCooldownBlocks,
    );
    known.sort((a, b) => (input.rank(b) ?? 0) - (input.rank(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
    const link = [...explore, ...known.slice(0, wanted)];
    for (const id of link) this.offeredAt.set(id, height);
    for (const id of explore) this.offers.set(id, (this.offers.get(id) ?? 0) + 1);
    return {
      drop,
      freePlaces,
      link,
      neighbours: keep.map((id) => ({
        peerId: id,
        reason: isTrial(id) ? 'exploring' : 'kept',
        sinceHeight: this.held.get(id)!.sinceHeight,
        merit: merit.get(id)!,
      })),
    };
  }

  /** Up to `count` distinct ids drawn uniformly from `pool` (partial Fisher–Yates). */
  private sample(pool: readonly string[], count: number): string[] {
    const a = [...pool];
    const n = Math.min(count, a.length);
    for (let i = 0; i < n; i++) {
      const j = i + this.rng.int(a.length - i);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a.slice(0, n);
  }
}

/**
 * Offers the decision's candidates in order until its free places are taken,
 * after unlinking the released ones. Returns the peers linked.
 */
export async function applyNeighbourDecision(
  nb: Neighbourhood,
  decision: NeighbourDecision,
): Promise<string[]> {
  for (const id of decision.drop) nb.unlink(id);
  const linked: string[] = [];
  for (const id of decision.link) {
    if (linked.length >= decision.freePlaces) break;
    if (await nb.link(id)) linked.push(id);
  }
  return linked;
}
