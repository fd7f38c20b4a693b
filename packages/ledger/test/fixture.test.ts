import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeFixtureChain } from '../scripts/make-fixture.js';
import { LightClient, parseGenesis, replayChain } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(readFileSync(join(here, 'fixtures/chain.json'), 'utf8')) as {
  genesis: unknown;
  blocks: unknown[];
  expected: {
    height: number;
    stateRoot: string;
    headHash: string;
    rank: number[];
    lastSetHeight: number[];
    activeRows: boolean[];
  };
};

describe('fixture chain (the browser e2e replays the same file)', () => {
  it('replays to the committed state root', async () => {
    const r = await replayChain(fixture);
    expect(r).toEqual({
      height: fixture.expected.height,
      stateRoot: fixture.expected.stateRoot,
      headHash: fixture.expected.headHash,
    });
  });

  it('exercises the activity cutoff: a never-set uid and a stale uid contribute no row', async () => {
    const client = new LightClient(parseGenesis(fixture.genesis));
    for (const b of fixture.blocks) await client.apply(b);
    const view = client.state.view();
    expect(view.activityCutoffBlocks).toBe(4);
    expect(view.lastSetHeight[3]).toBe(0); // uid 3 never set weights
    expect(view.lastSetHeight[5]).toBeLessThanOrEqual(8); // uid 5 went quiet after block 8
    expect(view.activeRows).toEqual([true, true, true, false, true, false]);
    expect(view.activeRows).toEqual(fixture.expected.activeRows);
    expect(view.lastSetHeight).toEqual(fixture.expected.lastSetHeight);
    expect(view.rank).toEqual(fixture.expected.rank);
  });

  it('regenerating it gives the identical file (signing, hashing and arithmetic are deterministic)', async () => {
    const again = JSON.parse(JSON.stringify(await makeFixtureChain()));
    expect(again).toEqual(fixture);
  });

  it('a one-bit change anywhere in the history is caught', async () => {
    const blocks = structuredClone(fixture.blocks) as Array<{ txs: Array<{ weights?: number[][] }> }>;
    const tx = blocks[10]!.txs.find((t) => t.weights)!;
    tx.weights![0]![1]! += 1;
    tx.weights![1]![1]! -= 1;
    await expect(replayChain({ genesis: fixture.genesis, blocks })).rejects.toMatchObject({
      code: 'bad-tx-root',
    });
  });

  it('the replay path imports no Node APIs (it must run in a browser)', () => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      // Type-only imports are erased; only runtime imports matter.
      for (const m of text.matchAll(/^(?:import|export)(?! type)[^'"]*from '([^']+)'/gm)) {
        const spec = m[1]!;
        expect(spec.startsWith('node:') || spec === 'better-sqlite3', `${file} imports ${spec}`).toBe(false);
        if (spec.startsWith('./')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      }
    };
    visit(join(here, '../src/index.ts'));
    expect(seen.size).toBeGreaterThan(8);
  });
});
