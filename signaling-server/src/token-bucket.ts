/**
 * A token bucket: `burst` tokens at most, refilled continuously at
 * `ratePerS`. Used twice per connection: once for the message rate and once
 * as the abuse-strike budget (strikes are forgiven slowly over time, so a
 * long-lived client with an occasional bad message is never closed for it).
 */
export class TokenBucket {
  private tokens: number;
  private lastRefillMs: number;

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    if (!(ratePerS >= 0) || !(burst >= 1))
      throw new RangeError('token bucket needs rate >= 0 and burst >= 1');
    this.tokens = burst;
    this.lastRefillMs = nowMs();
  }

  /** Takes one token; false (and nothing taken) when the bucket is empty. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Spends `n` tokens after the fact (e.g. the bytes of an answer already
   * sent): the bucket may go into debt, and `take` and `available` see
   * nothing until it has refilled past it. Callers serve only while not in
   * debt, so a debt is at most the answers that were in flight at once.
   */
  charge(n: number): void {
    this.refill();
    this.tokens -= n;
  }

  /** Tokens available now (fractional while refilling). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const now = this.nowMs();
    const elapsedMs = now - this.lastRefillMs;
    this.lastRefillMs = now;
    if (elapsedMs > 0) this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.ratePerS) / 1000);
  }
}
