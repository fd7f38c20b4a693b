/** Per-address rate limits on the /ledger HTTP routes: 429 with the stable code `rate-limited`. */
import { openEmbeddedLedger } from '@peerbench/ledger';
import { afterEach, describe, expect, it } from 'vitest';
import { createSignalingServer, resolveOptions, type SignalingServerOptions } from '../src/index.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(opts: SignalingServerOptions) {
  const ledger = await openEmbeddedLedger({ autoStart: false });
  cleanup.push(() => ledger.stop());
  const server = createSignalingServer({ host: '127.0.0.1', port: 0, ledger: ledger.hook, ...opts });
  await server.start();
  cleanup.push(() => server.stop());
  return server;
}

const postTx = (base: string, from?: string) =>
  fetch(`${base}/ledger/tx`, {
    method: 'POST',
    body: JSON.stringify({ type: 'register' }),
    headers: from ? { 'x-forwarded-for': from } : {},
  });

describe('HTTP rate limits on /ledger', () => {
  it('refuses POST /ledger/tx over its per-address burst with 429 rate-limited, while reads still pass', async () => {
    // Rates so slow that no token comes back during the test.
    const server = await serve({ ledgerTxHttpRatePerS: 0.001, ledgerTxHttpBurst: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await postTx(server.httpUrl);
      codes.push(r.status);
      expect(await r.json()).toMatchObject({ ok: false, code: 'malformed' }); // reached the ledger
    }
    expect(codes).toEqual([400, 400, 400]);
    const limited = await postTx(server.httpUrl);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toMatchObject({ ok: false, code: 'rate-limited' });
    // Reads have their own, larger budget.
    const head = await fetch(`${server.httpUrl}/ledger/head`);
    expect(head.status).toBe(200);
    expect((await head.json()).height).toBe(0);
    // Not a ledger route: never limited.
    expect((await fetch(`${server.httpUrl}/health`)).status).toBe(200);
    expect(server.metrics().httpRateLimitedTotal).toBe(1);
    const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
    expect(text).toMatch(/peerbench_signaling_http_rate_limited_total 1/);
  });

  it('limits all /ledger reads per address, and other addresses keep their own budget', async () => {
    const server = await serve({ ledgerHttpRatePerS: 0.001, ledgerHttpBurst: 5, trustProxy: true });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++)
      statuses.push(
        (await fetch(`${server.httpUrl}/ledger/state`, { headers: { 'x-forwarded-for': '10.0.0.1' } }))
          .status,
      );
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    // A tx from the limited address is refused before reaching the ledger.
    const tx = await postTx(server.httpUrl, '10.0.0.1');
    expect(tx.status).toBe(429);
    expect(await tx.json()).toMatchObject({ code: 'rate-limited' });
    // Another address is unaffected.
    expect(
      (await fetch(`${server.httpUrl}/ledger/genesis`, { headers: { 'x-forwarded-for': '10.0.0.2' } }))
        .status,
    ).toBe(200);
    expect(server.metrics().httpRateLimitedTotal).toBe(3);
  });

  it('charges the bytes of /ledger answers to the address: one in debt waits, others read on', async () => {
    // A byte budget of 1: the first read is served whole, then the address is in debt.
    const server = await serve({
      trustProxy: true,
      addressBudgets: { 'ledger-read-bytes': { ratePerS: 1, burst: 1 } },
    });
    const read = (from: string) =>
      fetch(`${server.httpUrl}/ledger/state`, { headers: { 'x-forwarded-for': from } });
    const first = await read('10.0.0.1');
    expect(first.status).toBe(200);
    const stateBytes = (await first.text()).length;
    expect(stateBytes).toBeGreaterThan(100);
    const limited = await read('10.0.0.1');
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ ok: false, code: 'rate-limited' });
    // Retry-After counts the debt: about the answer's size at 1 byte/s.
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(100);
    expect((await read('10.0.0.2')).status).toBe(200);
    expect((await fetch(`${server.httpUrl}/health`)).status).toBe(200);
  });

  it('validates the limit options', () => {
    expect(() => resolveOptions({ ledgerHttpRatePerS: 0 })).toThrow(/ledgerHttpRatePerS/);
    expect(() => resolveOptions({ ledgerTxHttpRatePerS: Number.POSITIVE_INFINITY })).toThrow(
      /ledgerTxHttpRatePerS/,
    );
    expect(() => resolveOptions({ ledgerTxHttpBurst: 0 })).toThrow(/ledgerTxHttpBurst/);
    expect(resolveOptions({}).ledgerTxHttpBurst).toBeGreaterThan(1);
    expect(() => resolveOptions({ addressBudgets: { join: { ratePerS: -1, burst: 5 } } })).toThrow(/join/);
    expect(() => resolveOptions({ addressBudgets: { message: { ratePerS: 1, burst: 0 } } })).toThrow(
      /message/,
    );
    expect(() => resolveOptions({ upgradeTimeoutMs: 0 })).toThrow(/upgradeTimeoutMs/);
    // The flat ledger options set the budgets they name; addressBudgets wins over them.
    const r = resolveOptions({ ledgerTxHttpRatePerS: 3, ledgerTxHttpBurst: 7 });
    expect(r.addressBudgets.tx).toEqual({ ratePerS: 3, burst: 7 });
    expect(
      resolveOptions({ ledgerTxHttpBurst: 7, addressBudgets: { tx: { ratePerS: 1, burst: 2 } } })
        .addressBudgets.tx,
    ).toEqual({ ratePerS: 1, burst: 2 });
    // The message budget is never below one connection's.
    expect(resolveOptions({ messageRatePerS: 1e6, messageBurst: 1e6 }).addressBudgets.message).toEqual({
      ratePerS: 1e6,
      burst: 1e6,
    });
  });
});
