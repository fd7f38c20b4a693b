import { describe, expect, it } from 'vitest';
import {
  boundedRowToward,
  createSetWeightsTx,
  DEFAULT_BLOCK_INTERVAL_MS,
  type LedgerStateView,
  rowFromPairs,
} from '../src/index.js';
import { harness } from './helpers.js';

/** Relative rank share of each peer. */
const shares = (s: LedgerStateView) => {
  const total = s.rank.reduce((a, b) => a + b, 0);
  return s.rank.map((r) => r / total);
};

describe('default genesis: three fresh peers see non-trivial, changing ranks within a minute', () => {
  it('ranks spread and keep moving as peers step their rows by ≤ ε per block', async () => {
    const { producer, keys } = await harness(3); // default genesis; block 1 registers them
    // What each peer's scorer would like (peer 1 is the most useful one to everybody).
    const wants: Array<Array<[number, number]>> = [
      [
        [0, 0.5],
        [1, 0.4],
        [2, 0.1],
      ],
      [
        [0, 0.2],
        [1, 0.6],
        [2, 0.2],
      ],
      [
        [0, 0.1],
        [1, 0.5],
        [2, 0.4],
      ],
    ];
    const blocksPerMinute = 60_000 / DEFAULT_BLOCK_INTERVAL_MS;
    const history: number[][] = [];
    for (let b = 0; b < blocksPerMinute - 1; b++) {
      const s = producer.state();
      for (let uid = 0; uid < 3; uid++) {
        const row = boundedRowToward(rowFromPairs(s.weights[uid]!), wants[uid]!, s.stepBoundL2);
        const r = await producer.submitTx(
          await createSetWeightsTx(keys[uid]!, uid, s.nonces[uid]! + 1, row, s.genesisHash),
        );
        expect(r.ok).toBe(true);
      }
      await producer.produceBlock();
      history.push(shares(producer.state()));
    }
    const first = history[0]!;
    const last = history.at(-1)!;
    // Block 1 (registration only): all self-weight, equal stake → equal ranks.
    expect(shares(producer.state()).length).toBe(3);
    // Within a minute the most useful peer leads clearly and the others trail.
    expect(last[1]!).toBeGreaterThan(0.45);
    expect(Math.min(last[0]!, last[2]!)).toBeLessThan(0.3);
    // Ranks changed between the first and the last block, and moved over several blocks, not once.
    expect(Math.abs(last[1]! - first[1]!)).toBeGreaterThan(0.05);
    let moves = 0;
    for (let k = 1; k < history.length; k++)
      if (Math.abs(history[k]![1]! - history[k - 1]![1]!) > 1e-4) moves++;
    expect(moves).toBeGreaterThan(3);
    // Stake grew by inflation and in the direction of rank.
    const s = producer.state();
    expect(s.stake[1]!).toBeGreaterThan(s.stake[0]!);
    expect(s.stake.reduce((a, b) => a + b, 0)).toBeGreaterThan(3 + 1);
  });
});
