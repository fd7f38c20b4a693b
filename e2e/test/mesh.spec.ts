/**
 * Issue 4: three Chromium pages (separate browser contexts, like three
 * people) join one room through the real signaling server, open WebRTC data
 * channels to each other, and each completes a `forward` request to both
 * others with exactly the expected values — a small tensor and one large
 * enough to be split into several 16 KiB frames.
 */
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { openTrackedPage, signalingUrl, uniqueRoom } from '../src/helpers.js';
import { ARTIFACTS_DIR } from '../src/paths.js';

/** What the page's handler computes, in float32 like the page. */
function expected(responderId: string, x: number[]): number[] {
  const c = Number.parseInt(responderId.slice(0, 2), 16);
  return x.map((v) => Math.fround(2 * Math.fround(v) + c));
}

test('three pages form a full mesh and answer forward with the right values', async ({ browser }) => {
  const room = uniqueRoom('mesh');
  const pages = await Promise.all([0, 1, 2].map(() => openTrackedPage(browser, { width: 800, height: 400 })));
  const ids: string[] = [];
  for (const p of pages) {
    await p.page.goto('/e2e-pages/harness.html?page=mesh');
    await p.page.waitForFunction(() => window.peerbenchMesh !== undefined);
    ids.push(
      await p.page.evaluate(([url, r]) => window.peerbenchMesh!.join(url, r), [
        signalingUrl(),
        room,
      ] as const),
    );
  }
  expect(new Set(ids).size).toBe(3);

  for (const [i, p] of pages.entries()) {
    const others = ids.filter((_, j) => j !== i).sort();
    await expect
      .poll(async () => (await p.page.evaluate(() => window.peerbenchMesh!.connected())).sort(), {
        timeout: 45_000,
      })
      .toEqual(others);
  }

  const small = [0, 1, -2.5, 3.25, 1e3, -1e-3];
  const large = Array.from({ length: 10_000 }, (_, k) => Math.sin(k) * 100); // 40 kB: three frames
  for (const [i, p] of pages.entries()) {
    for (const [j, target] of ids.entries()) {
      if (i === j) continue;
      for (const x of [small, large]) {
        const out = await p.page.evaluate(([to, values]) => window.peerbenchMesh!.forward(to, values), [
          target,
          x,
        ] as const);
        expect(out.shape).toEqual([x.length]);
        expect(out.data).toEqual(expected(target, x));
      }
    }
  }

  await pages[0]!.page.screenshot({ path: join(ARTIFACTS_DIR, 'mesh.png') });
  for (const p of pages) await p.page.evaluate(() => window.peerbenchMesh!.leave());
  for (const p of pages) {
    expect(p.errors).toEqual([]);
    await p.context.close();
  }
});
