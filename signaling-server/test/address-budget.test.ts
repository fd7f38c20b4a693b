import { describe, expect, it } from 'vitest';
import { AddressBudgets, DEFAULT_ADDRESS_BUDGET_LIMITS } from '../src/address-budget.js';
import { normaliseOrigin, originAllowed } from '../src/origin-policy.js';

describe('AddressBudgets', () => {
  const limits = {
    ...DEFAULT_ADDRESS_BUDGET_LIMITS,
    message: { ratePerS: 10, burst: 5 },
    join: { ratePerS: 1, burst: 2 },
  };

  it('spends per address and kind, refills over time, and one address does not spend another’s', () => {
    let now = 0;
    const b = new AddressBudgets(limits, 100, () => now);
    const takes = Array.from({ length: 7 }, () => b.take('1.1.1.1', 'message'));
    expect(takes).toEqual([true, true, true, true, true, false, false]);
    expect(b.take('2.2.2.2', 'message')).toBe(true);
    // Kinds are separate budgets.
    expect(b.take('1.1.1.1', 'join')).toBe(true);
    now = 100; // 10/s → one message back after 100 ms
    expect(b.take('1.1.1.1', 'message')).toBe(true);
    expect(b.take('1.1.1.1', 'message')).toBe(false);
    expect(b.retryAfterS('join')).toBe(1);
  });

  it('is bounded in memory and forgets idle addresses', () => {
    let now = 0;
    const b = new AddressBudgets(limits, 3, () => now);
    for (const a of ['a', 'b', 'c', 'd']) b.take(a, 'message');
    expect(b.size).toBe(3);
    now = 10_000;
    b.prune();
    expect(b.size).toBe(0);
  });
});

describe('origin policy', () => {
  const policy = { allowedOrigins: ['https://app.example.org'] };

  it("allows the server's own origin, listed ones and non-browser clients; refuses foreign and opaque origins", () => {
    expect(originAllowed(undefined, '127.0.0.1:8787', policy)).toBe(true);
    expect(originAllowed('http://127.0.0.1:8787', '127.0.0.1:8787', policy)).toBe(true);
    expect(originAllowed('https://APP.example.org', '127.0.0.1:8787', policy)).toBe(true);
    expect(originAllowed('https://evil.example', '127.0.0.1:8787', policy)).toBe(false);
    expect(originAllowed('http://127.0.0.1:9999', '127.0.0.1:8787', policy)).toBe(false);
    expect(originAllowed('null', '127.0.0.1:8787', policy)).toBe(false);
    expect(originAllowed('https://evil.example', '127.0.0.1:8787', { allowedOrigins: ['*'] })).toBe(true);
  });

  it('normalises origins', () => {
    expect(normaliseOrigin('HTTPS://Example.org:443/path')).toBe('https://example.org');
    expect(normaliseOrigin('ftp://x')).toBeNull();
    expect(normaliseOrigin('not a url')).toBeNull();
  });
});
