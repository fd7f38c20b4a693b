/**
 * The producer lease: one key in a JetStream KV bucket whose TTL is the lease
 * time. create(key) succeeds only when the key is absent (never written, or
 * its last value aged out after the TTL, or deleted): that is acquiring.
 * update(key, value, revision) succeeds only if nobody wrote since our
 * revision: that is renewing. The holder trusts its lease only until the
 * start of its last successful renew + TTL − a safety margin, so it stops
 * producing before anyone else can acquire.
 */
import type { KV } from '@nats-io/kv';

/** Part of the TTL the holder gives up, against clock drift and message delays. */
export const LEASE_SAFETY_FRACTION = 0.2;

export interface LeaseHolder {
  instanceId: string;
  peerId: string;
}

export class ProducerLease {
  private revision: number | undefined;
  private validUntilMs = 0;
  /** Bumped by drop()/release(): a renew in flight across one must not bring the lease back. */
  private epoch = 0;
  private readonly value: Uint8Array;

  constructor(
    private readonly kv: KV,
    private readonly key: string,
    holder: LeaseHolder,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.value = new TextEncoder().encode(JSON.stringify(holder));
  }

  /** True while this instance may act as producer (time-bounded, not only "we think so"). */
  get valid(): boolean {
    return this.revision !== undefined && this.now() < this.validUntilMs;
  }

  get held(): boolean {
    return this.revision !== undefined;
  }

  private grant(revision: number, startedAt: number): void {
    this.revision = revision;
    this.validUntilMs = startedAt + this.ttlMs * (1 - LEASE_SAFETY_FRACTION);
  }

  /** Tries to take a free lease; false when someone holds it. */
  async tryAcquire(): Promise<boolean> {
    const startedAt = this.now();
    try {
      this.grant(await this.kv.create(this.key, this.value), startedAt);
      return true;
    } catch {
      return false;
    }
  }

  /** Extends a held lease; false (and the lease is dropped) if it was lost or could not be renewed. */
  async renew(): Promise<boolean> {
    if (this.revision === undefined) return false;
    const startedAt = this.now();
    const epoch = this.epoch;
    let revision: number;
    try {
      revision = await this.kv.update(this.key, this.value, this.revision);
    } catch {
      if (this.epoch === epoch) this.drop();
      return false;
    }
    if (this.epoch !== epoch) {
      // Given up (released or dropped) while this update was in flight: the
      // update landed first, so the key is ours again at `revision` and the
      // release's delete (at the old revision) was refused. Granting it now
      // would hold the lease with no producer behind it, renewed forever (the
      // failover test's "no block after the load started"); free it instead.
      await this.kv.delete(this.key, { previousSeq: revision }).catch(() => undefined);
      return false;
    }
    this.grant(revision, startedAt);
    return true;
  }

  /** Forgets the lease locally (after a failed renew, or a crash test). */
  drop(): void {
    this.epoch++;
    this.revision = undefined;
    this.validUntilMs = 0;
  }

  /** Gives the lease back so another instance need not wait for the TTL. */
  async release(): Promise<void> {
    const revision = this.revision;
    this.drop();
    if (revision === undefined) return;
    await this.kv.delete(this.key, { previousSeq: revision }).catch(() => undefined);
  }

  /** Who holds the lease now, per the bucket (undefined when free). */
  async holder(): Promise<LeaseHolder | undefined> {
    const e = await this.kv.get(this.key).catch(() => null);
    if (e?.operation !== 'PUT') return undefined;
    try {
      return JSON.parse(new TextDecoder().decode(e.value)) as LeaseHolder;
    } catch {
      return undefined;
    }
  }
}
