/**
 * Issue 13: the rank finds out a peer that gives the others nothing. Three
 * pages in one room of the real server; one is opened with the test-only
 * `?adversary=noise` (apps/web): a real Peer that trains and scores like the
 * others, but answers every expert call from them with uniform noise
 * (packages/peer's `withNoiseAnswers`, the same noise as apps/swarm's noise
 * endpoints). Every page's dashboard must end up showing the noise peer with
 * the lowest rank R of the network, below both honest peers, within 2 minutes
 * of Contribute, and keep it there over the next blocks.
 *
 * How: each page's store holds the network view of its latest verified block
 * (`snapshot.network.peers`: peerId, stake, rank). The spec polls it (bounded,
 * no fixed waits) until the noise peer's R is below every honest R, then
 * waits for two more blocks on every page and checks again.
 */
import { expect, type Page, test } from '@playwright/test';
import { openTrackedPage, type TrackedPage, uniqueRoom } from '../src/helpers.js';

/** The target: lowest on every page within 2 minutes of Contribute. */
const NOISE_LOWEST_WITHIN_MS = 120_000;
/** Blocks the order must then hold for, on every page. */
const HOLD_BLOCKS = 2;

interface RankView {
  peerId: string | null;
  height: number | null;
  forwardsServed: number;
  ranks: Array<{ peerId: string; rank: number; stake: number }>;
}

function rankView(page: Page): Promise<RankView> {
  return page.evaluate(() => {
    const snap = window.__peerbench!.store.getState().snapshot;
    return {
      peerId: snap?.peerId ?? null,
      height: snap?.network?.height ?? null,
      forwardsServed: snap?.stats?.forwardsServed ?? 0,
      ranks: snap?.network?.peers.map((p) => ({ peerId: p.peerId, rank: p.rank, stake: p.stake })) ?? [],
    };
  });
}

/** The noise peer's R minus the lowest honest R (negative: the noise peer is lowest); null until all three are on chain. */
function margin(view: RankView, noiseId: string, honestIds: string[]): number | null {
  const rankOf = (id: string) => view.ranks.find((r) => r.peerId === id)?.rank;
  const noise = rankOf(noiseId);
  const honest = honestIds.map(rankOf);
  if (noise === undefined || honest.some((r) => r === undefined)) return null;
  return noise - Math.min(...(honest as number[]));
}

const pages: TrackedPage[] = [];

test.afterAll(async () => {
  for (const p of pages) await p.context.close().catch(() => {});
});

test('a tab answering noise ends with the lowest rank on every page', async ({ browser }) => {
  // Room for the 2-minute bound itself to be what fails (page loads and the hold come on top of it).
  test.setTimeout(NOISE_LOWEST_WITHIN_MS + 60_000);
  const room = uniqueRoom('noise');
  const base = `/?room=${room}&backend=wasm`;
  // The noise tab is opened first: in issue 13's three-tab run the first tab to join was rank #1
  // throughout, so joining first must not save it.
  const urls = [`${base}&adversary=noise`, base, base];
  for (const url of urls) {
    const p = await openTrackedPage(browser);
    pages.push(p);
    await p.page.goto(url);
  }
  const noisePage = pages[0]!.page;
  // The test mode is announced on the page that runs it.
  await expect(noisePage.getByText(/Test mode \(\?adversary=noise\)/)).toBeVisible();

  await Promise.all(pages.map((p) => p.page.getByTestId('contribute').click({ timeout: 30_000 })));
  const startedAt = Date.now();
  for (const p of pages)
    await expect(p.page.getByTestId('connection')).toHaveText('connected', { timeout: 90_000 });
  const ids = await Promise.all(pages.map(async (p) => (await rankView(p.page)).peerId!));
  expect(new Set(ids).size).toBe(3);
  const noiseId = ids[0]!;
  const honestIds = ids.slice(1);

  // Poll every page until its latest block ranks the noise peer below both honest peers.
  const reachedAfterMs: number[] = [];
  for (const p of pages) {
    await expect
      .poll(async () => margin(await rankView(p.page), noiseId, honestIds) ?? Number.POSITIVE_INFINITY, {
        timeout: Math.max(1_000, NOISE_LOWEST_WITHIN_MS - (Date.now() - startedAt)),
        intervals: [500],
      })
      .toBeLessThan(0);
    reachedAfterMs.push(Date.now() - startedAt);
  }

  // It stays there: after HOLD_BLOCKS more blocks on every page, the noise peer is still lowest.
  const heights = await Promise.all(pages.map(async (p) => (await rankView(p.page)).height ?? 0));
  for (const [i, p] of pages.entries()) {
    await expect
      .poll(async () => (await rankView(p.page)).height ?? 0, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(heights[i]! + HOLD_BLOCKS);
  }
  const final = await Promise.all(pages.map((p) => rankView(p.page)));
  for (const [i, view] of final.entries()) {
    const m = margin(view, noiseId, honestIds);
    expect(m, `page ${i}: ranks ${JSON.stringify(view.ranks)}`).not.toBeNull();
    expect(m!, `page ${i}: ranks ${JSON.stringify(view.ranks)}`).toBeLessThan(0);
  }

  // The noise tab's own expert server never answered anyone (the noise did); the honest tabs' did.
  expect(final[0]!.forwardsServed).toBe(0);
  for (const view of final.slice(1)) expect(view.forwardsServed).toBeGreaterThan(0);

  const shown = final[1]!.ranks.map((r) => ({
    // The ledger is the server's, shared by every room: peers of earlier specs are listed too.
    who:
      r.peerId === noiseId
        ? 'noise'
        : honestIds.includes(r.peerId)
          ? `honest-${honestIds.indexOf(r.peerId) + 1}`
          : 'other room',
    rank: Number(r.rank.toFixed(4)),
    stake: Number(r.stake.toFixed(3)),
  }));
  console.log(
    `noise-rank: lowest on pages noise/honest-1/honest-2 after ${reachedAfterMs.map((ms) => (ms / 1000).toFixed(1)).join('/')} s; block ${final[1]!.height}: ${JSON.stringify(shown)}`,
  );
  for (const [i, p] of pages.entries()) expect(p.errors, `page ${i}`).toEqual([]);
});
