/**
 * The neighbour policy of issue 14 (DESIGN.md step 7): once per block, which
 * of the room's members this peer keeps links to. Pure bookkeeping over ids
 * and numbers (no tfjs, no transport), so it is tested on its own and the
 * runner (neighbourhood-runner.ts) only applies what it decides.
 *
 * - Keep who earns: a neighbour's merit is its share of this peer's own
 *   scores w_ij among the neighbours, mixed with its share of the ledger's
 *   R_j among them (`rankShare`).
 * - Rotate to explore: the neighbour with the lowest merit, among those held
 *   for at least `trialBlocks` blocks, is released once it has been the
 *   lowest for `dropAfterBlocks` consecutive blocks while there is someone
 *   untried to take its place.
 * - Rotate out who earns nothing, also after exploring: a neighbour whose
 *   merit stays below `meritFloor` × the even share (1 / neighbours) for
 *   `floorBlocks` consecutive blocks past its trial is released even when
 *   everyone has been tried (only while some neighbour earns: when nobody
 *   does, nobody can be told apart). Hysteresis: the count starts below the
 *   floor and is reset only above twice the floor.
 * - No thrash: at most one release per block (plus links beyond D), and a
 *   released peer is not offered again for `releasedCooldownBlocks` blocks,
 *   doubled on each further release of the same peer (up to
 *   `maxCooldownBlocks`). After its cool-down it is retried like any known
 *   peer: it may have improved.
 * - Explore: free places are offered to a random sample of members not yet
 *   tried (never linked, not refused lately, offered fewer than `maxOffers`
 *   times: one that is always full stops counting). A link can be refused (the
 *   other side is full), so each free place gets a few candidates in order,
 *   then peers tried before, best first by their share of the ledger's R and
 *   of this peer's own past scores of them (mixed by `rankShare`), with one
 *   drawn at random in front in a share `retryExploreShare` of the blocks.
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
  /** K: a neighbour that stays the lowest for this many consecutive blocks is released (while someone is untried). */
  dropAfterBlocks: number;
  /**
   * Blocks a new neighbour is held before it can be released. A link needs
   * time before it earns: the caller's gate and head must learn the new
   * expert (in the 36-peer swarm a link earns ~1/15 of a settled link's
   * weight 5 blocks in, ~1/3 after 15), so one judged after 3 blocks is
   * judged at its weakest and newcomers, whose links are all young, kept
   * being released (docs/results/swarm-newcomers.md).
   */
  trialBlocks: number;
  /** Weight of the ledger's R against this peer's own w_ij in a neighbour's merit, in [0, 1]. */
  rankShare: number;
  /** Candidates offered per free place (the first that accepts takes it). */
  candidatesPerPlace: number;
  /** A refused candidate is not offered again for this many blocks. */
  refusedCooldownBlocks: number;
  /** An untried candidate offered this many times without a link counts as tried (it stays full). */
  maxOffers: number;
  /**
   * Merit floor as a share of the even share 1/neighbours, in [0, 1): below
   * it a neighbour earns (almost) nothing. Low on purpose: a noise peer's
   * merit sits ~100× below a young honest link's, and a floor at 1/4 of the
   * even share also released young honest links (swarm-newcomers.md).
   */
  meritFloor: number;
  /** Consecutive blocks below the floor (past the trial) after which a neighbour is released. */
  floorBlocks: number;
  /** A peer this policy released is not offered again for this many blocks (doubled per further release). */
  releasedCooldownBlocks: number;
  /** Cap of the doubled cool-down, in blocks. */
  maxCooldownBlocks: number;
  /** Share of the blocks, in [0, 1], in which a random known peer is offered first instead of the best known. */
  retryExploreShare: number;
}

export const DEFAULT_NEIGHBOUR_POLICY_OPTIONS: Omit<NeighbourPolicyOptions, 'maxLinks'> = {
  dropAfterBlocks: 3,
  trialBlocks: 10,
  rankShare: 0.5,
  candidatesPerPlace: 3,
  refusedCooldownBlocks: 2,
  maxOffers: 3,
  meritFloor: 0.05,
  floorBlocks: 4,
  releasedCooldownBlocks: 10,
  maxCooldownBlocks: 80,
  retryExploreShare: 0.25,
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
  /** Neighbours to release (at most one, plus links beyond D). */
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
  /** Consecutive blocks as the lowest (counted while someone is untried). */
  lowestFor: number;
  /** Consecutive blocks below the merit floor (hysteresis: reset above twice the floor). */
  belowFloorFor: number;
}

/** Shares of `values` (negatives and non-finite as 0); all zero when nothing is positive. */
function shares(values: number[]): number[] {
  const clean = values.map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const sum = clean.reduce((a, v) => a + v, 0);
  return clean.map((v) => (sum > 0 ? v / sum : 0));
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function checkOptions(o: NeighbourPolicyOptions): void {
  const int = (name: keyof NeighbourPolicyOptions, min: number) => {
    const v = o[name];
    if (!(Number.isSafeInteger(v) && v >= min))
      throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  };
  int('maxLinks', 0);
  int('dropAfterBlocks', 1);
  int('trialBlocks', 0);
  int('candidatesPerPlace', 1);
  int('floorBlocks', 1);
  int('releasedCooldownBlocks', 0);
  int('maxCooldownBlocks', o.releasedCooldownBlocks);
  const unit = (name: keyof NeighbourPolicyOptions, v: number, maxExclusive = false) => {
    if (!(v >= 0 && (maxExclusive ? v < 1 : v <= 1)))
      throw new RangeError(`${name} must be in [0, 1${maxExclusive ? ')' : ']'}, got ${v}`);
  };
  unit('rankShare', o.rankShare);
  unit('meritFloor', o.meritFloor, true);
  unit('retryExploreShare', o.retryExploreShare);
}

export class NeighbourPolicy {
  private readonly opts: NeighbourPolicyOptions;
  private readonly held = new Map<string, Held>();
  /** Peers ever linked to (incoming or outgoing). */
  private readonly triedIds = new Set<string>();
  /** Offered and not (yet) linked: the height of the last offer and how many offers. */
  private readonly offeredAt = new Map<string, number>();
  private readonly offers = new Map<string, number>();
  /** Peers this policy released: when, and how many times (the cool-down doubles per release). */
  private readonly released = new Map<string, { atHeight: number; count: number }>();
  /** The last merit of each peer tried, from the latest block it was a neighbour. */
  private readonly pastMerit = new Map<string, number>();

  constructor(
    opts: Partial<NeighbourPolicyOptions> & Pick<NeighbourPolicyOptions, 'maxLinks'>,
    private readonly rng: Rng,
  ) {
    this.opts = { ...DEFAULT_NEIGHBOUR_POLICY_OPTIONS, ...opts };
    checkOptions(this.opts);
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

  /** True while a peer this policy released waits out its cool-down at `height`. */
  coolingDown(peerId: string, height: number): boolean {
    const r = this.released.get(peerId);
    if (!r) return false;
    const o = this.opts;
    const cooldown = Math.min(o.maxCooldownBlocks, o.releasedCooldownBlocks * 2 ** (r.count - 1));
    return height - r.atHeight < cooldown;
  }

  /** One block's decision. Call once per block with the links as they are now. */
  decide(input: NeighbourPolicyInput): NeighbourDecision {
    const { height } = input;
    const o = this.opts;
    const current = [...new Set(input.neighbours)];
    const linked = new Set(current);
    for (const id of [...this.held.keys()]) if (!linked.has(id)) this.held.delete(id);
    for (const id of current) {
      if (!this.held.has(id)) this.held.set(id, { sinceHeight: height, lowestFor: 0, belowFloorFor: 0 });
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
    for (const id of current) if (!isTrial(id)) this.pastMerit.set(id, merit.get(id)!);

    const offerable = (id: string) =>
      !linked.has(id) &&
      height - (this.offeredAt.get(id) ?? Number.NEGATIVE_INFINITY) >= o.refusedCooldownBlocks;
    const explorable = input.candidates.filter(
      (id) => offerable(id) && !this.triedIds.has(id) && (this.offers.get(id) ?? 0) < o.maxOffers,
    );

    // Neighbours past their trial, lowest merit first (ties: the longest held, then the id).
    const eligible = current.filter((id) => !isTrial(id));
    eligible.sort(
      (a, b) =>
        merit.get(a)! - merit.get(b)! ||
        this.held.get(a)!.sinceHeight - this.held.get(b)!.sinceHeight ||
        byId(a, b),
    );
    const lowest = eligible[0];
    for (const id of current) if (id !== lowest) this.held.get(id)!.lowestFor = 0;
    // Being the lowest counts only while someone untried could take the place.
    if (lowest !== undefined && explorable.length > 0) this.held.get(lowest)!.lowestFor++;
    const anyoneEarns = eligible.some((id) => merit.get(id)! > 0);
    const floor = current.length > 0 ? o.meritFloor / current.length : 0;
    for (const id of eligible) {
      const h = this.held.get(id)!;
      const m = merit.get(id)!;
      if (anyoneEarns && m < floor) h.belowFloorFor++;
      else if (!anyoneEarns || m >= 2 * floor) h.belowFloorFor = 0;
    }

    const drop: string[] = [];
    const release = (id: string) => {
      drop.push(id);
      this.held.delete(id);
      this.released.set(id, { atHeight: height, count: (this.released.get(id)?.count ?? 0) + 1 });
    };
    const full = current.length >= o.maxLinks;
    const due = eligible.find((id) => {
      const h = this.held.get(id)!;
      return h.belowFloorFor >= o.floorBlocks || (full && h.lowestFor >= o.dropAfterBlocks);
    });
    if (due !== undefined) release(due);
    // More links than places (incoming links beyond a cap that shrank): release the lowest extras.
    const keep = current.filter((id) => !drop.includes(id));
    while (keep.length > o.maxLinks) {
      const extra = eligible.find((id) => keep.includes(id)) ?? keep[keep.length - 1]!;
      keep.splice(keep.indexOf(extra), 1);
      release(extra);
    }

    const freePlaces = Math.max(0, o.maxLinks - keep.length);
    const wanted = freePlaces * o.candidatesPerPlace;
    const explore = this.sample(explorable, wanted);
    const known = this.rankKnown(
      input,
      input.candidates.filter(
        (id) => offerable(id) && this.triedIds.has(id) && !drop.includes(id) && !this.coolingDown(id, height),
      ),
    );
    if (
      freePlaces > 0 &&
      explore.length < wanted &&
      known.length > 1 &&
      this.rng.next() < o.retryExploreShare
    )
      known.unshift(...known.splice(this.rng.int(known.length), 1));
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

  /**
   * Peers tried before, best first: their share of the ledger's R among
   * `pool` mixed (by `rankShare`) with their share of this peer's own past
   * merits of them.
   */
  private rankKnown(input: NeighbourPolicyInput, pool: string[]): string[] {
    const r = shares(pool.map((id) => input.rank(id) ?? 0));
    const past = shares(pool.map((id) => this.pastMerit.get(id) ?? 0));
    const worth = new Map(
      pool.map((id, q) => [id, this.opts.rankShare * r[q]! + (1 - this.opts.rankShare) * past[q]!]),
    );
    return [...pool].sort((a, b) => worth.get(b)! - worth.get(a)! || byId(a, b));
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
