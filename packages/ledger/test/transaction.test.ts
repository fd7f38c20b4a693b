import { toHex } from '@peerbench/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createRegisterTx,
  createSetWeightsTx,
  isLedgerError,
  MAX_ROW_ENTRIES,
  MAX_TX_JSON_BYTES,
  parseTx,
  registerMessage,
  setWeightsMessage,
  TX_ERROR_CODES,
  verifyTxSignature,
} from '../src/index.js';
import { identities, SCALE } from './helpers.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!isLedgerError(e)) throw e;
    return e.code;
  }
}

describe('canonical tx bytes', () => {
  it('lays out register and set-weights exactly as documented', () => {
    const key = new Uint8Array(32).fill(0xab);
    const chain = '0f'.repeat(32);
    const reg = registerMessage(key, chain);
    const domain = new TextEncoder().encode('peerbench/ledger/tx/v2');
    expect(reg.length).toBe(4 + domain.length + 32 + 1 + 32);
    expect(Array.from(reg.slice(0, 4))).toEqual([0, 0, 0, domain.length]);
    expect(toHex(reg.slice(4 + domain.length, 4 + domain.length + 32))).toBe(chain);
    expect(reg[4 + domain.length + 32]).toBe(1);
    const sw = setWeightsMessage(
      0x01020304,
      2 ** 40 + 5,
      [
        [1, 400_000_000],
        [9, 600_000_000],
      ],
      chain,
    );
    expect(toHex(sw.slice(4 + domain.length, 4 + domain.length + 32))).toBe(chain);
    const body = sw.slice(4 + domain.length + 32);
    expect(toHex(body)).toBe(
      `02` +
        `01020304` +
        `00000100` +
        `00000005` +
        `0002` +
        `00000001` +
        `17d78400` +
        `00000009` +
        `23c34600`,
    );
  });

  it('signatures verify over the canonical bytes, and JSON round trips to the same hash', async () => {
    const [a] = await identities(1);
    const chain = '0f'.repeat(32);
    const reg = parseTx(await createRegisterTx(a!, chain));
    expect(await verifyTxSignature(reg)).toBe(true);
    expect(reg.genesisHash).toBe(chain);
    const tx = await createSetWeightsTx(
      a!,
      3,
      7,
      [
        [0, 250_000_000],
        [3, 750_000_000],
      ],
      chain,
    );
    const p1 = parseTx(tx);
    const p2 = parseTx(JSON.stringify(tx));
    expect(p2.hash).toBe(p1.hash);
    expect(await verifyTxSignature(p1, a!.publicKey)).toBe(true);
    const tampered = parseTx({ ...tx, nonce: 8 });
    expect(await verifyTxSignature(tampered, a!.publicKey)).toBe(false);
    // Moving a signed tx to another chain breaks its signature too.
    const moved = parseTx({ ...tx, genesisHash: 'f0'.repeat(32) });
    expect(await verifyTxSignature(moved, a!.publicKey)).toBe(false);
  });
});

describe('stateless validation codes', () => {
  const sig = '0'.repeat(128);
  const ok = {
    type: 'set-weights',
    genesisHash: '0f'.repeat(32),
    uid: 0,
    nonce: 1,
    weights: [[0, SCALE]],
    signature: sig,
  };

  it('accepts a valid row and names every kind of bad input', () => {
    expect(codeOf(() => parseTx(ok))).toBeUndefined();
    expect(codeOf(() => parseTx('{not json'))).toBe('malformed');
    expect(codeOf(() => parseTx({ ...ok, type: 'mint' }))).toBe('malformed');
    expect(codeOf(() => parseTx({ ...ok, extra: 1 }))).toBe('malformed');
    expect(codeOf(() => parseTx({ ...ok, nonce: 0 }))).toBe('malformed');
    expect(codeOf(() => parseTx({ ...ok, signature: 'xyz' }))).toBe('malformed');
    expect(codeOf(() => parseTx({ ...ok, genesisHash: undefined }))).toBe('malformed');
    expect(codeOf(() => parseTx({ ...ok, genesisHash: 'AB'.repeat(32) }))).toBe('malformed');
    expect(codeOf(() => parseTx({ ...ok, weights: [[0, Number.NaN]] }))).toBe('bad-weight');
    expect(codeOf(() => parseTx({ ...ok, weights: [[0, Number.POSITIVE_INFINITY]] }))).toBe('bad-weight');
    expect(
      codeOf(() =>
        parseTx({
          ...ok,
          weights: [
            [0, -1],
            [1, SCALE + 1],
          ],
        }),
      ),
    ).toBe('bad-weight');
    expect(codeOf(() => parseTx({ ...ok, weights: [[0, 0.5]] }))).toBe('bad-weight');
    expect(codeOf(() => parseTx({ ...ok, weights: [[0, SCALE - 1]] }))).toBe('not-on-simplex');
    expect(codeOf(() => parseTx({ ...ok, weights: [] }))).toBe('not-on-simplex');
    expect(
      codeOf(() =>
        parseTx({
          ...ok,
          weights: [
            [2, SCALE / 2],
            [1, SCALE / 2],
          ],
        }),
      ),
    ).toBe('malformed');
    expect(
      codeOf(() =>
        parseTx({
          ...ok,
          weights: [
            [1, SCALE / 2],
            [1, SCALE / 2],
          ],
        }),
      ),
    ).toBe('malformed');
    const many = Array.from({ length: MAX_ROW_ENTRIES + 1 }, (_, k) => [k, k === 0 ? SCALE : 0]);
    expect(codeOf(() => parseTx({ ...ok, weights: many }))).toBe('too-many-entries');
    expect(codeOf(() => parseTx({ ...ok, pad: 'x'.repeat(MAX_TX_JSON_BYTES) }))).toBe('too-large');
    expect(codeOf(() => parseTx('x'.repeat(MAX_TX_JSON_BYTES + 1)))).toBe('too-large');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(codeOf(() => parseTx(cyclic))).toBe('malformed');
  });

  it('fuzz: any input is either parsed or rejected with a documented code, never a crash', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const code = codeOf(() => parseTx(value));
        if (code !== undefined) expect(TX_ERROR_CODES).toContain(code);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.record({
          type: fc.constantFrom('set-weights', 'register', 'x'),
          genesisHash: fc.constantFrom('0f'.repeat(32), 'zz'),
          uid: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double()),
          nonce: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double()),
          weights: fc.array(
            fc.tuple(fc.oneof(fc.nat(5), fc.double()), fc.oneof(fc.nat(SCALE), fc.double())),
            {
              maxLength: 70,
            },
          ),
          signature: fc.constantFrom(sig, 'ab'),
        }),
        (value) => {
          const code = codeOf(() => parseTx(value));
          if (code !== undefined) expect(TX_ERROR_CODES).toContain(code);
          else {
            // Whatever parses is a real simplex row.
            const sum = value.weights.reduce((s, [, w]) => s + (w as number), 0);
            expect(sum).toBe(SCALE);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
