/**
 * The escape hatch: `?worker=0` runs the Peer on the page's main thread (for
 * browsers without module workers or OffscreenCanvas). It must still connect,
 * register and train, and say where it trains.
 */
import { expect, test } from '@playwright/test';
import { openTrackedPage, uniqueRoom } from '../src/helpers.js';

test('?worker=0 trains on the page itself', async ({ browser }) => {
  const p = await openTrackedPage(browser);
  try {
    await p.page.goto(`/?room=${uniqueRoom('main')}&backend=wasm&worker=0`);
    await expect(p.page.getByTestId('thread-plan')).toContainText('on this page');
    await p.page.getByTestId('contribute').click({ timeout: 30_000 });
    await expect(p.page.getByTestId('connection')).toHaveText('connected', { timeout: 90_000 });
    await expect(p.page.getByTestId('peer-thread')).toHaveText('on this page');
    // The CPU use levels pace the worker's loop; the main thread keeps its own fixed pause and says so.
    await expect(p.page.getByTestId('cpu-in-use')).toHaveText('CPU: fixed pause');
    await expect
      .poll(() => p.page.evaluate(() => window.__peerbench!.store.getState().snapshot?.step ?? 0), {
        timeout: 60_000,
      })
      .toBeGreaterThan(2);
    await expect
      .poll(() => p.page.evaluate(() => window.__peerbench!.store.getState().snapshot?.uid ?? null), {
        timeout: 60_000,
      })
      .not.toBeNull();
    expect(await p.page.evaluate(() => window.__peerbench!.store.getState().peerThread)).toBe('main');
    expect(p.errors).toEqual([]);
  } finally {
    await p.context.close();
  }
});
