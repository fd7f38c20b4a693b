/**
 * Issue 14's newcomer experiment: after the swarm's peers have trained for a
 * while, G good peers (an honest Peer with the median shard) and N noise
 * endpoints join. They are built and registered with everyone else (so the
 * participant arrays of the record keep one length), but their network is a
 * `DeferredNetwork` that nobody can see or reach until `--newcomers …@STEP`,
 * when it joins the transport. Per block the tracker records, for each
 * newcomer, how many running peers hold it in a gate slot and its R; at the
 * end it evaluates the issue's targets.
 */
import {
  ExpertError,
  type ExpertHandlers,
  type ExpertNetwork,
  type Neighbourhood,
  type NeighbourhoodCandidates,
  type NetworkEvent,
} from '@peerbench/mesh';
import type { ChainState, Peer } from '@peerbench/peer';

export interface NewcomerSpec {
  good: number;
  noise: number;
  atStep: number;
}

/** `G,N@STEP` → the spec; errors through the CLI's usage error class. */
export function parseNewcomers(
  raw: string,
  steps: number,
  UsageError: new (message: string) => Error,
): NewcomerSpec {
  const m = /^(\d+),(\d+)@(\d+)$/.exec(raw.trim());
  if (!m) throw new UsageError(`--newcomers: expected GOOD,NOISE@STEP (e.g. 2,2@200), got '${raw}'`);
  const spec = { good: Number(m[1]), noise: Number(m[2]), atStep: Number(m[3]) };
  if (spec.good + spec.noise < 1) throw new UsageError('--newcomers: at least one newcomer');
  if (spec.atStep < 1 || spec.atStep >= steps)
    throw new UsageError(`--newcomers: step must be in 1..${steps - 1}, got ${spec.atStep}`);
  return spec;
}

const NO_CANDIDATES: NeighbourhoodCandidates = { peerIds: [], roomSize: null };

/**
 * A network that is not there yet: no peers, every call fails with
 * 'peer-gone', links are refused. `admit(inner)` plugs in the real one and
 * hands it what was registered meanwhile (the served handlers, listeners).
 */
export class DeferredNetwork implements ExpertNetwork {
  private inner: ExpertNetwork | null = null;
  private handlers: ExpertHandlers | null = null;
  private unserveInner: (() => void) | null = null;
  private readonly listeners: Array<[NetworkEvent, (peerId: string) => void]> = [];
  readonly neighbourhood?: Neighbourhood;

  constructor(
    readonly selfId: string,
    maxLinks: number | null,
  ) {
    if (maxLinks !== null) {
      const nb = () => this.inner?.neighbourhood;
      this.neighbourhood = {
        maxLinks,
        candidates: () => nb()?.candidates() ?? NO_CANDIDATES,
        refreshCandidates: async () => (await nb()?.refreshCandidates()) ?? NO_CANDIDATES,
        link: async (id) => (await nb()?.link(id)) ?? false,
        unlink: (id) => nb()?.unlink(id),
      };
    }
  }

  get admitted(): boolean {
    return this.inner !== null;
  }

  admit(inner: ExpertNetwork): void {
    this.inner = inner;
    if (this.handlers) this.unserveInner = inner.serve(this.handlers);
    for (const [event, cb] of this.listeners) inner.on?.(event, cb);
  }

  peers(): string[] {
    return this.inner?.peers() ?? [];
  }

  forward: ExpertNetwork['forward'] = (peerId, x, opts) =>
    this.inner
      ? this.inner.forward(peerId, x, opts)
      : Promise.reject(new ExpertError('peer-gone', 'not joined'));

  backward: ExpertNetwork['backward'] = (peerId, grad, opts) =>
    this.inner
      ? this.inner.backward(peerId, grad, opts)
      : Promise.reject(new ExpertError('peer-gone', 'not joined'));

  serve(handlers: ExpertHandlers): () => void {
    this.handlers = handlers;
    if (this.inner) this.unserveInner = this.inner.serve(handlers);
    return () => {
      this.handlers = null;
      this.unserveInner?.();
    };
  }

  on(event: NetworkEvent, cb: (peerId: string) => void): () => void {
    this.listeners.push([event, cb]);
    const off = this.inner?.on?.(event, cb);
    return () => off?.();
  }
}

/** One newcomer's story, block by block. */
export interface NewcomerTrace {
  index: number;
  kind: 'good' | 'noise';
  /** Blocks: height, how many running peers hold it in a gate slot, and its R. */
  blocks: { height: number; step: number; holders: number; rank: number }[];
  /** Height of the first block after it joined. */
  joinedAtHeight: number | null;
  /** First height at which some peer holds it in a slot / its R is above 0 (null: never). */
  firstSlotHeight: number | null;
  firstRankHeight: number | null;
  /** At the last block: R, and its share of the honest trained peers it is above. */
  finalRank: number | null;
  finalPercentileAmongTrained: number | null;
}

export interface NewcomerReport {
  spec: NewcomerSpec;
  newcomers: NewcomerTrace[];
  /** Median and minimum R of the trained honest peers (and of every honest peer) at the last block. */
  trainedMedianRank: number | null;
  honestMinRank: number | null;
  criteria: {
    /** Every good newcomer held a slot somewhere within 10 blocks of joining. */
    goodGatedWithin10Blocks: boolean;
    /** Every good newcomer ends above the median rank of the trained honest peers. */
    goodAboveTrainedMedian: boolean;
    /** Every noise newcomer ends below every honest peer (trained or new). */
    noiseBelowEveryHonest: boolean;
  };
}

export interface TrackedParticipant {
  index: number;
  kind: string;
  peerId: string;
  peer: Peer | null;
  running: boolean;
}

const median = (v: number[]): number | null => {
  if (v.length === 0) return null;
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export class NewcomerTracker {
  readonly traces: NewcomerTrace[];
  private admitted = false;

  constructor(
    readonly spec: NewcomerSpec,
    /** Participant indices of the newcomers, good first. */
    readonly indices: number[],
  ) {
    this.traces = indices.map((index, q) => ({
      index,
      kind: q < spec.good ? 'good' : 'noise',
      blocks: [],
      joinedAtHeight: null,
      firstSlotHeight: null,
      firstRankHeight: null,
      finalRank: null,
      finalPercentileAmongTrained: null,
    }));
  }

  isNewcomer(index: number): boolean {
    return this.indices.includes(index);
  }

  markAdmitted(): void {
    this.admitted = true;
  }

  /** One block: slot holders and R of every newcomer (before they join: nothing is recorded). */
  observe(state: ChainState, step: number, everyone: TrackedParticipant[]): void {
    if (!this.admitted) return;
    const uidOf = (id: string) => state.peerIds.indexOf(id);
    for (const t of this.traces) {
      const me = everyone[t.index]!;
      const holders = everyone.filter(
        (p) => p.running && p.index !== t.index && p.peer?.runtime?.slots.includes(me.peerId),
      ).length;
      const uid = uidOf(me.peerId);
      const rank = uid >= 0 ? (state.ranks[uid] ?? 0) : 0;
      t.joinedAtHeight ??= state.height;
      t.blocks.push({ height: state.height, step, holders, rank });
      if (holders > 0) t.firstSlotHeight ??= state.height;
      if (rank > 0) t.firstRankHeight ??= state.height;
    }
  }

  /** The targets at the last block. */
  report(state: ChainState | null, everyone: TrackedParticipant[]): NewcomerReport {
    const rankOf = (p: TrackedParticipant) => {
      const uid = state ? state.peerIds.indexOf(p.peerId) : -1;
      return uid >= 0 && state ? (state.ranks[uid] ?? 0) : 0;
    };
    const trained = everyone.filter((p) => p.kind === 'honest' && p.running && !this.isNewcomer(p.index));
    const honest = everyone.filter((p) => p.kind === 'honest' && p.running);
    const trainedRanks = trained.map(rankOf);
    const trainedMedianRank = median(trainedRanks);
    const honestMinRank = honest.length ? Math.min(...honest.map(rankOf)) : null;
    for (const t of this.traces) {
      const r = rankOf(everyone[t.index]!);
      t.finalRank = r;
      t.finalPercentileAmongTrained = trainedRanks.length
        ? trainedRanks.filter((x) => x < r).length / trainedRanks.length
        : null;
    }
    const good = this.traces.filter((t) => t.kind === 'good');
    const noise = this.traces.filter((t) => t.kind === 'noise');
    return {
      spec: this.spec,
      newcomers: this.traces,
      trainedMedianRank,
      honestMinRank,
      criteria: {
        goodGatedWithin10Blocks: good.every(
          (t) =>
            t.firstSlotHeight !== null &&
            t.joinedAtHeight !== null &&
            t.firstSlotHeight - t.joinedAtHeight <= 10,
        ),
        goodAboveTrainedMedian: good.every(
          (t) => trainedMedianRank !== null && (t.finalRank ?? 0) > trainedMedianRank,
        ),
        noiseBelowEveryHonest: noise.every(
          (t) => honestMinRank !== null && (t.finalRank ?? 0) < honestMinRank,
        ),
      },
    };
  }
}
