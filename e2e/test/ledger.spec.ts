/**
 * Issue 5: the ledger's state root is identical when the same chain is
 * replayed in Node and in Chromium (deterministic arithmetic and hashing), and
 * the browser's light client rejects a tampered chain with the same code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replayChain } from '@peerbench/ledger';
import { expect, test } from '@playwright/test';
import { ARTIFACTS_DIR, REPO_ROOT } from '../src/paths.js';

const fixturePath = join(REPO_ROOT, 'packages/ledger/test/fixtures/chain.json');

test('a page replays the fixture chain to the same state root as Node', async ({ page }) => {
  const chain = JSON.parse(readFileSync(fixturePath, 'utf8')) as {
    genesis: unknown;
    blocks: Array<{ txs: Array<{ weights?: number[][] }> }>;
    expected: { height: number; stateRoot: string; headHash: string };
  };
  const inNode = await replayChain({ genesis: chain.genesis, blocks: chain.blocks });
  expect(inNode.stateRoot).toBe(chain.expected.stateRoot);

  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/e2e-pages/harness.html?page=ledger');
  await page.waitForFunction(() => window.peerbenchLedger !== undefined);
  const inBrowser = await page.evaluate((c) => window.peerbenchLedger!.replay(c), {
    genesis: chain.genesis,
    blocks: chain.blocks,
  });
  expect(inBrowser).toEqual({ ok: true, ...inNode });
  expect(inBrowser).toMatchObject({ height: chain.expected.height, headHash: chain.expected.headHash });

  // One weight moved between two entries of one tx: Node and the browser both refuse it the same way.
  const tampered = structuredClone(chain.blocks);
  const tx = tampered.flatMap((b) => b.txs).find((t) => t.weights && t.weights.length >= 2)!;
  tx.weights![0]![1]! += 1;
  tx.weights![1]![1]! -= 1;
  const nodeError = await replayChain({ genesis: chain.genesis, blocks: tampered }).then(
    () => null,
    (err: { code?: string }) => err.code ?? 'unknown',
  );
  expect(nodeError).not.toBeNull();
  const browserResult = await page.evaluate((c) => window.peerbenchLedger!.replay(c), {
    genesis: chain.genesis,
    blocks: tampered,
  });
  expect(browserResult).toMatchObject({ ok: false, code: nodeError });

  await page.screenshot({ path: join(ARTIFACTS_DIR, 'ledger-replay.png') });
  expect(errors).toEqual([]);
});
