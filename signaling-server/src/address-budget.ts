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

export const BUDGET_KINDS = [
  'connection',
  'message',
  'tx',
  'join',
  'ledger-read',
  'ledger-read-bytes',
] as const;
export type BudgetKind = (typeof BUDGET_KINDS)[number];

export interface Rate {
  ratePerS: number;
  burst: number;
}

export type AddressBudgetLimits = Record<BudgetKind, Rate>;

/**
 * Defaults per address. Generous for a classroom behind one NAT or a swarm of
 * peers on one host (dozens of tabs or processes), small enough that one host
 * cannot crowd out the rest. The server's options override each of them
 * (options.ts `addressBudgets`; `ledgerHttp*` and `ledgerTxHttp*` set
 * 'ledger-read' and 'tx').
 */
export const DEFAULT_ADDRESS_BUDGET_LIMITS: AddressBudgetLimits = {
  /** New WebSocket upgrades, counted when the upgrade request arrives (before the handshake). */
  connection: { ratePerS: 10, burst: 200 },
  /**
   * Signaling messages of every kind, all connections of the address
   * together (each connection also has its own messageRatePerS). A peer
   * meeting 20 others sends ~250 at join time.
   */
  message: { ratePerS: 2_000, burst: 6_000 },
  /** Ledger txs, over WebSocket and POST /ledger/tx together (each costs a signature check). */
  tx: { ratePerS: 20, burst: 200 },
  /** Room joins (signature verified) and leaves: each one fans presence out to a room. */
  join: { ratePerS: 5, burst: 100 },
  /** /ledger/* HTTP requests. */
  'ledger-read': { ratePerS: 20, burst: 100 },
  /**
   * Bytes of /ledger/* answers, charged after each answer by its
   * Content-Length; a request is served while the budget is not in debt.
   * Five readers of a 6.7 MB /ledger/state once pulled 1.74 GB in 10 s.
   */
  'ledger-read-bytes': { ratePerS: 8 * 1024 * 1024, burst: 64 * 1024 * 1024 },
};

export const DEFAULT_MAX_TRACKED_ADDRESSES = 65_536;

type Buckets = Record<BudgetKind, TokenBucket>;

/** Why `limits` cannot be used (a message), or undefined when every kind has a finite rate ≥ 0 and a burst ≥ 1. */
export function budgetLimitsProblem(limits: AddressBudgetLimits): string | undefined {
  for (const kind of BUDGET_KINDS) {
    const r = limits[kind];
    if (typeof r?.ratePerS !== 'number' || typeof r.burst !== 'number')
      return `address budget '${kind}' needs numbers`;
    if (!(r.ratePerS >= 0) || !Number.isFinite(r.ratePerS) || !(r.burst >= 1) || !Number.isFinite(r.burst))
      return `address budget '${kind}' needs a finite ratePerS >= 0 and a finite burst >= 1`;
  }
  return undefined;
}

/**
 * Budgets as an operator writes them on the command line or in env:
 * `KIND=RATE/BURST[,KIND=RATE/BURST…]`, e.g. `tx=5/50,join=1/20` (rates per
 * second). Returns the kinds given; throws a RangeError naming the bad part.
 */
export function parseBudgetSpec(spec: string): Partial<AddressBudgetLimits> {
  const out: Partial<AddressBudgetLimits> = {};
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)) {
    const m = /^([a-z-]+)=([0-9.eE+]+)\/([0-9.eE+]+)$/.exec(part);
    const kind = m?.[1] as BudgetKind | undefined;
    if (!m || !kind || !(BUDGET_KINDS as readonly string[]).includes(kind))
      throw new RangeError(
        `address budget '${part}': expected KIND=RATE/BURST with KIND one of ${BUDGET_KINDS.join(', ')}`,
      );
    const rate = { ratePerS: Number(m[2]), burst: Number(m[3]) };
    if (
      !(rate.ratePerS >= 0) ||
      !Number.isFinite(rate.ratePerS) ||
      !(rate.burst >= 1) ||
      !Number.isFinite(rate.burst)
    )
      throw new RangeError(`address budget '${part}': RATE must be a finite number >= 0 and BURST >= 1`);
    out[kind] = rate;
  }
  return out;
}

export class AddressBudgets {
  private readonly byAddress = new Map<string, Buckets>();

  constructor(
    private readonly limits: AddressBudgetLimits = DEFAULT_ADDRESS_BUDGET_LIMITS,
    private readonly maxAddresses = DEFAULT_MAX_TRACKED_ADDRESSES,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    const problem = budgetLimitsProblem(limits);
    if (problem) throw new RangeError(problem);
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
        'ledger-read-bytes': make('ledger-read-bytes'),
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

  /** Spends `units` after the fact (bytes already sent); the budget may go into debt. */
  charge(address: string, kind: BudgetKind, units: number): void {
    this.bucketsOf(address)[kind].charge(units);
  }

  /** Whole seconds until one unit of `kind` is back (for Retry-After); with `address`, counting its debt. */
  retryAfterS(kind: BudgetKind, address?: string): number {
    const rate = this.limits[kind].ratePerS;
    if (!(rate > 0)) return 3600;
    const missing = address === undefined ? 1 : Math.max(1, 1 - this.bucketsOf(address)[kind].available());
    return Math.max(1, Math.ceil(missing / rate));
  }

  /** Forgets addresses whose buckets are all full again (idle clients cost no memory). */
  prune(): void {
    for (const [address, b] of this.byAddress)
      if (BUDGET_KINDS.every((k) => b[k].available() >= this.limits[k].burst)) this.byAddress.delete(address);
  }
}
