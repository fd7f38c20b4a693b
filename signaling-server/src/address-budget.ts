/**
 * One budget per client address for everything a client can make the server
 * do: open connections, send messages, relay, submit txs (WebSocket and HTTP
 * alike), join or leave rooms, read the ledger. Counted per address, not per
 * connection, so reconnecting does not refill it (20 flooders that
 * reconnected after every close used to get ~25k relays/s through).
 * Memory is bounded: at most `maxAddresses` are tracked (oldest forgotten),
 * and `prune()` forgets addresses whose buckets are all full again.
 */
import { TokenBucket } from './token-bucket.js';

export const BUDGET_KINDS = ['connection', 'message', 'tx', 'join', 'ledger-read'] as const;
export type BudgetKind = (typeof BUDGET_KINDS)[number];

export interface Rate {
  ratePerS: number;
  burst: number;
}

export type AddressBudgetLimits = Record<BudgetKind, Rate>;

/**
 * Defaults per address. Generous for a classroom behind one NAT (dozens of
 * tabs), small enough that one host cannot crowd out the rest.
 */
export const DEFAULT_ADDRESS_BUDGET_LIMITS: AddressBudgetLimits = {
  /** New WebSocket upgrades (counted from the moment the socket opens). */
  connection: { ratePerS: 2, burst: 64 },
  /** Signaling messages of every kind, all connections of the address together. */
  message: { ratePerS: 400, burst: 2_000 },
  /** Ledger txs, over WebSocket and POST /ledger/tx together (each costs a signature check). */
  tx: { ratePerS: 5, burst: 40 },
  /** Room joins and leaves (each one fans presence out to a room). */
  join: { ratePerS: 1, burst: 30 },
  /** /ledger/* HTTP reads. */
  'ledger-read': { ratePerS: 20, burst: 100 },
};

export const DEFAULT_MAX_TRACKED_ADDRESSES = 65_536;

type Buckets = Record<BudgetKind, TokenBucket>;

export class AddressBudgets {
  private readonly byAddress = new Map<string, Buckets>();

  constructor(
    private readonly limits: AddressBudgetLimits = DEFAULT_ADDRESS_BUDGET_LIMITS,
    private readonly maxAddresses = DEFAULT_MAX_TRACKED_ADDRESSES,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    for (const kind of BUDGET_KINDS) {
      const r = limits[kind];
      if (!(r.ratePerS >= 0) || !(r.burst >= 1))
        throw new RangeError(`budget ${kind} needs ratePerS >= 0 and burst >= 1`);
    }
  }

  /** Addresses currently tracked. */
  get size(): number {
    return this.byAddress.size;
  }

  private bucketsOf(address: string): Buckets {
    let b = this.byAddress.get(address);
    if (!b) {
      if (this.byAddress.size >= this.maxAddresses) {
        const oldest = this.byAddress.keys().next().value;
        if (oldest !== undefined) this.byAddress.delete(oldest);
      }
      const make = (kind: BudgetKind) =>
        new TokenBucket(this.limits[kind].ratePerS, this.limits[kind].burst, this.nowMs);
      b = {
        connection: make('connection'),
        message: make('message'),
        tx: make('tx'),
        join: make('join'),
        'ledger-read': make('ledger-read'),
      };
      this.byAddress.set(address, b);
    }
    return b;
  }

  /** Spends one unit of `kind` for `address`; false (nothing spent) when the budget is empty. */
  take(address: string, kind: BudgetKind): boolean {
    return this.bucketsOf(address)[kind].take();
  }

  /** Whether one unit is available, without spending it. */
  has(address: string, kind: BudgetKind): boolean {
    return this.bucketsOf(address)[kind].available() >= 1;
  }

  /** Whole seconds until one unit of `kind` is back (for Retry-After). */
  retryAfterS(kind: BudgetKind): number {
    const rate = this.limits[kind].ratePerS;
    return rate > 0 ? Math.max(1, Math.ceil(1 / rate)) : 3600;
  }

  /** Forgets addresses whose buckets are all full again (idle clients cost no memory). */
  prune(): void {
    for (const [address, b] of this.byAddress)
      if (BUDGET_KINDS.every((k) => b[k].available() >= this.limits[k].burst)) this.byAddress.delete(address);
  }
}
