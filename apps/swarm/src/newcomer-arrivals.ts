/**
 * The swarm's side of --newcomers (newcomers.ts): which participants wait,
 * their deferred networks, their admission at the given step, and the
 * tracker's per-block observation and final report.
 */
import type { ChainState } from '@peerbench/peer';
import type { Identity } from '@peerbench/protocol';
import type { SwarmOptions } from './args.js';
import {
  DeferredNetwork,
  type NewcomerReport,
  NewcomerTracker,
  type TrackedParticipant,
} from './newcomers.js';
import type { Participant } from './participants.js';
import type { SwarmTransport } from './transport.js';

export class NewcomerArrivals {
  private readonly deferred = new Map<number, { net: DeferredNetwork; identity: Identity }>();
  private readonly tracker: NewcomerTracker;
  private admitted = false;

  private constructor(
    private readonly opts: SwarmOptions,
    private readonly first: number,
    count: number,
  ) {
    const spec = opts.newcomers!;
    this.tracker = new NewcomerTracker(
      spec,
      Array.from({ length: count }, (_, q) => first + q),
    );
  }

  /** Null without --newcomers; the newcomers are the last participants. */
  static forSwarm(opts: SwarmOptions, participants: number): NewcomerArrivals | null {
    const spec = opts.newcomers;
    if (!spec) return null;
    const count = spec.good + spec.noise;
    return new NewcomerArrivals(opts, participants - count, count);
  }

  /** For participant `index` being built: a deferred network when it is a newcomer, else null. */
  defer(identity: Identity, index: number): DeferredNetwork | null {
    if (!this.tracker.isNewcomer(index)) return null;
    const net = new DeferredNetwork(identity.peerId, this.opts.degree);
    this.deferred.set(index, { net, identity });
    return net;
  }

  /** Still waiting to join (does not step, is not evaluated). */
  waiting(index: number): boolean {
    return !this.admitted && index >= this.first;
  }

  dueAt(step: number): boolean {
    return !this.admitted && step === this.opts.newcomers!.atStep;
  }

  /** Joins every newcomer to the transport. */
  async admit(transport: SwarmTransport, say: (line: string) => void): Promise<void> {
    for (const { net, identity } of this.deferred.values()) net.admit(await transport.connect(identity));
    this.admitted = true;
    this.tracker.markAdmitted();
    say(`newcomers ${[...this.deferred.keys()].join(', ')} joined`);
  }

  private tracked(participants: Participant[], running: (p: Participant) => boolean): TrackedParticipant[] {
    return participants.map((p) => ({
      index: p.index,
      kind: p.kind,
      peerId: p.identity.peerId,
      peer: p.peer,
      running: running(p),
    }));
  }

  observe(
    state: ChainState,
    step: number,
    participants: Participant[],
    running: (p: Participant) => boolean,
  ): void {
    this.tracker.observe(state, step, this.tracked(participants, running));
  }

  report(
    state: ChainState | null,
    participants: Participant[],
    running: (p: Participant) => boolean,
  ): NewcomerReport {
    return this.tracker.report(state, this.tracked(participants, running));
  }
}
