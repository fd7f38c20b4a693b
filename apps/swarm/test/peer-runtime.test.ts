import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import type { SwarmRecord } from '../src/record.js';

// --runtime peer: real packages/peer Peers and the real packages/ledger producer,
// driven in lockstep. Small on purpose: it guards the wiring, not the learning.
describe('--runtime peer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-peer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('trains real Peers, lands their signed weight rows in ledger blocks, and writes the same JSON', async () => {
    const code = await main(
      (
        '--runtime peer --peers 2 --steps 10 --block-steps 5 --eval-every 5 --eval-size 20 ' +
        '--shard-sizes 40,80 --adversary noise:1 --quiet --out out'
      ).split(' '),
      dir,
    );
    expect(code).toBe(0);
    const rec = JSON.parse(readFileSync(join(dir, 'out', 'swarm.json'), 'utf8')) as SwarmRecord;
    expect(rec.chain).toMatch(/^ledger/);
    expect(rec.participants.map((p) => p.kind)).toEqual(['honest', 'honest', 'noise']);
    expect(rec.steps).toHaveLength(11);
    expect(rec.steps[10]!.trainLoss.slice(0, 2).every((l) => typeof l === 'number')).toBe(true);
    expect(typeof rec.steps[10]!.B).toBe('number');
    expect(rec.blocks).toHaveLength(2);
    const last = rec.blocks[1]!;
    expect(last.R).toHaveLength(3);
    for (const row of last.W) expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 3);
    // The honest peers' rows moved off pure self-weight: their set-weights txs landed.
    expect(last.W[0]![0]).toBeLessThan(1);
    expect(last.W[1]![1]).toBeLessThan(1);
    expect(rec.summary.failedSteps).toBe(0);
  }, 90_000);
});
