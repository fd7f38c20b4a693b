/**
 * Issue 8: the web app end to end, in one room of the real server.
 *  1. Three pages open the share link, press Contribute, connect to each
 *     other, train; their rank charts gain points over ≥ 3 blocks and the
 *     network's ranks differ from uniform.
 *  2. Reloading one page brings back the same uid, and its stake history
 *     continues (older points kept, newer ones appended).
 *  3. Closing one page: the others keep training, no longer count it online
 *     (its link is gone; with bounded neighbourhoods its gate slot is freed,
 *     so the peers table shows it offline only until the next step), and log
 *     no uncaught errors.
 * Along the way each page records main-thread long tasks and frame rate
 * (written to bench-results/web.json; nothing about time is asserted).
 * Pages use ?backend=wasm: this machine has no GPU, and WebGL on the
 * SwiftShader software rasterizer is far slower than WASM.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { openTrackedPage, type TrackedPage, uniqueRoom } from '../src/helpers.js';
import { ARTIFACTS_DIR, BENCH_DIR } from '../src/paths.js';

test.describe.configure({ mode: 'serial' });

const room = uniqueRoom('app');
const pages: TrackedPage[] = [];
const perf: Array<Record<string, unknown>> = [];
const steady: Array<Record<string, unknown>> = [];

function state(page: Page) {
  return page.evaluate(() => {
    const s = window.__peerbench!.store.getState();
    const snap = s.snapshot;
    return {
      peerId: s.peerId,
      uid: snap?.uid ?? null,
      status: snap?.status ?? null,
      connection: snap?.connection ?? null,
      step: snap?.step ?? 0,
      heights: s.blockHistory.map((b) => b.height),
      stakes: s.blockHistory.map((b) => b.stake),
      savedBlockCount: s.savedBlockCount,
      onlinePeers: snap?.peers.filter((p) => !p.isSelf && p.online).map((p) => p.peerId) ?? [],
      offlinePeers: snap?.peers.filter((p) => !p.isSelf && !p.online).map((p) => p.peerId) ?? [],
      networkRanks: snap?.network?.peers.map((p) => p.rank) ?? [],
    };
  });
}

async function recordPerf(label: string, page: Page) {
  const r = await page.evaluate(() => {
    const p = window.__peerbenchPerf!;
    const now = performance.now();
    const minutes = (now - p.startedAtMs) / 60_000;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? null;
    const p10 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 10)] ?? null;
    // "While training": from the first training step on (page load, bundle parse and start-up excluded).
    const t0 = p.trainingStartedAtMs;
    const trainingTasks = t0 === null ? [] : p.longTasks.filter((t) => t.startMs >= t0);
    const trainingMinutes = t0 === null ? 0 : (now - t0) / 60_000;
    const trainingFps = t0 === null ? [] : p.fpsPerSecond.slice(Math.ceil((t0 - p.startedAtMs) / 1000));
    const snap = window.__peerbench!.store.getState();
    return {
      thread: snap.peerThread,
      backend: snap.snapshot?.backend?.chosen ?? null,
      minutes,
      longTasks: p.longTasks.length,
      longTasksPerMinute: p.longTasks.length / minutes,
      longTaskMsTotal: p.longTasks.reduce((a, t) => a + t.durationMs, 0),
      longestTaskMs: Math.max(0, ...p.longTasks.map((t) => t.durationMs)),
      fpsMedian: median(p.fpsPerSecond),
      fpsP10: p10(p.fpsPerSecond),
      whileTraining: {
        minutes: trainingMinutes,
        longTasks: trainingTasks.length,
        longTasksPerMinute: trainingMinutes > 0 ? trainingTasks.length / trainingMinutes : null,
        longestTaskMs: Math.max(0, ...trainingTasks.map((t) => t.durationMs)),
        fpsMedian: median(trainingFps),
        fpsP10: p10(trainingFps),
      },
      chartDrawsPerSecond: p.chartDraws / (minutes * 60),
      longTasksSupported: p.longTasksSupported,
      steps: snap.snapshot?.step ?? 0,
    };
  });
  perf.push({ page: label, ...r });
}

/** Long tasks and frame rate over a window in which nothing joins, leaves or starts. */
const STEADY_WINDOW_MS = 30_000;

async function recordSteady(label: string, page: Page, fromMs: number) {
  const r = await page.evaluate((from) => {
    const p = window.__peerbenchPerf!;
    const now = performance.now();
    const tasks = p.longTasks.filter((t) => t.startMs >= from);
    const fps = p.fpsPerSecond.slice(Math.ceil((from - p.startedAtMs) / 1000)).sort((a, b) => a - b);
    return {
      minutes: (now - from) / 60_000,
      longTasks: tasks.length,
      longTasksPerMinute: tasks.length / ((now - from) / 60_000),
      longestTaskMs: Math.max(0, ...tasks.map((t) => t.durationMs)),
      fpsMedian: fps[Math.floor(fps.length / 2)] ?? null,
      fpsP10: fps[Math.floor(fps.length / 10)] ?? null,
      steps: window.__peerbench!.store.getState().snapshot?.step ?? 0,
    };
  }, fromMs);
  steady.push({ page: label, ...r });
}

async function contribute(page: Page) {
  await page.getByTestId('contribute').click({ timeout: 30_000 });
  await expect(page.getByTestId('connection')).toHaveText('connected', { timeout: 90_000 });
}

test.afterAll(async () => {
  for (const p of pages) await p.context.close().catch(() => {});
  if (perf.length > 0 || steady.length > 0) {
    mkdirSync(BENCH_DIR, { recursive: true });
    const pagesWithTasks = perf.filter((p) => typeof p.longTasksPerMinute === 'number');
    const mean = (get: (p: Record<string, unknown>) => unknown) => {
      const xs = pagesWithTasks.map(get).filter((x): x is number => typeof x === 'number');
      return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    };
    const training = (p: Record<string, unknown>) => p.whileTraining as Record<string, unknown> | undefined;
    writeFileSync(
      join(BENCH_DIR, 'web.json'),
      `${JSON.stringify(
        {
          what: 'apps/web in headless Chromium (SwiftShader, no GPU), 3 peers training in one browser on this machine, ?backend=wasm, Peer in a dedicated worker (mesh on the main thread)',
          target: 'fewer than 5 main-thread long tasks (>50 ms) per minute while training',
          longTasksPerMinuteMean: mean((p) => p.longTasksPerMinute),
          longTasksPerMinuteWhileTrainingMean: mean((p) => training(p)?.longTasksPerMinute),
          fpsMedianMean: mean((p) => p.fpsMedian),
          fpsMedianWhileTrainingMean: mean((p) => training(p)?.fpsMedian),
          steadyWindowSeconds: STEADY_WINDOW_MS / 1000,
          longTasksPerMinuteSteadyMean:
            steady.reduce((a, p) => a + (p.longTasksPerMinute as number), 0) / Math.max(1, steady.length),
          fpsMedianSteadyMean:
            steady.reduce((a, p) => a + ((p.fpsMedian as number) ?? 0), 0) / Math.max(1, steady.length),
          steady,
          pages: perf,
          recordedAt: new Date().toISOString(),
        },
        null,
        2,
      )}\n`,
    );
  }
});

test('three pages join by the share link, train, and see ranks move over blocks', async ({ browser }) => {
  const first = await openTrackedPage(browser);
  pages.push(first);
  await first.page.goto(`/?room=${room}`);
  const shareUrl = await first.page.getByTestId('share-url').inputValue();
  expect(new URL(shareUrl).searchParams.get('room')).toBe(room);
  await first.page.goto(`${shareUrl}&backend=wasm`);
  for (let i = 0; i < 2; i++) {
    const p = await openTrackedPage(browser);
    pages.push(p);
    await p.page.goto(`${shareUrl}&backend=wasm`);
  }
  await Promise.all(pages.map((p) => contribute(p.page)));

  // The Peer trains in its worker (no silent fallback to the page's main thread).
  for (const p of pages)
    expect(await p.page.evaluate(() => window.__peerbench!.store.getState().peerThread)).toBe('worker');
  const ids = await Promise.all(pages.map(async (p) => (await state(p.page)).peerId!));
  expect(new Set(ids).size).toBe(3);
  for (const [i, p] of pages.entries()) {
    const others = ids.filter((_, j) => j !== i).sort();
    await expect
      .poll(async () => (await state(p.page)).onlinePeers.sort(), { timeout: 90_000 })
      .toEqual(others);
  }

  // Each page's peers table says how its links to the others travel: directly, on one machine.
  for (const [i, p] of pages.entries()) {
    for (const other of ids.filter((_, j) => j !== i)) {
      await expect(p.page.locator(`tr[data-peer-id="${other}"] [data-link-kind]`)).toHaveAttribute(
        'data-link-kind',
        'direct',
        { timeout: 30_000 },
      );
    }
  }

  // Every page gets a uid and at least three blocks of its own stake/rank, drawn in the rank chart.
  for (const p of pages) {
    await expect
      .poll(async () => (await state(p.page)).heights.length, { timeout: 90_000 })
      .toBeGreaterThanOrEqual(3);
    await expect
      .poll(async () =>
        Number(
          (await p.page.getByTestId('chart-rank').locator('.chart-host').getAttribute('data-points')) ?? 0,
        ),
      )
      .toBeGreaterThanOrEqual(3);
    const s = await state(p.page);
    expect(s.uid).not.toBeNull();
    expect(s.step).toBeGreaterThan(0);
    expect(new Set(s.heights).size).toBe(s.heights.length);
  }

  // The network's ranks stop being uniform once peers score each other.
  await expect
    .poll(
      async () => {
        const r = (await state(pages[0]!.page)).networkRanks;
        if (r.length < 3) return 0;
        const mean = r.reduce((a, b) => a + b, 0) / r.length;
        return (Math.max(...r) - Math.min(...r)) / mean;
      },
      { timeout: 90_000 },
    )
    .toBeGreaterThan(0.01);

  await pages[0]!.page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard.png'), fullPage: true });
  for (const [i, p] of pages.entries()) expect(p.errors, `page ${i}`).toEqual([]);

  // Steady state: all three connected and training, no one joining or leaving, for STEADY_WINDOW_MS.
  const marks = await Promise.all(pages.map((p) => p.page.evaluate(() => performance.now())));
  // The one fixed wait in the suite, and on purpose: this measures what happens over a window of time
  // (long tasks and frames in STEADY_WINDOW_MS), so the window has to pass; nothing is synchronised by it.
  await pages[0]!.page.waitForTimeout(STEADY_WINDOW_MS);
  for (const [i, p] of pages.entries()) await recordSteady(`peer-${i + 1}-steady`, p.page, marks[i]!);
});

test('a reloaded page comes back with the same uid and its stake history continues', async () => {
  const p = pages[2]!;
  const before = await state(p.page);
  // Wait until what a reload would restore has been written to IndexedDB.
  await expect
    .poll(async () => (await state(p.page)).savedBlockCount, { timeout: 30_000 })
    .toBeGreaterThanOrEqual(before.heights.length);
  const saved = await state(p.page);
  await recordPerf('peer-3-before-reload', p.page);

  await p.page.reload();
  await expect(p.page.getByTestId('contribute')).toBeEnabled({ timeout: 30_000 });
  const restored = await state(p.page);
  expect(restored.peerId).toBe(saved.peerId);
  expect(restored.heights.slice(0, saved.savedBlockCount)).toEqual(
    saved.heights.slice(0, saved.savedBlockCount),
  );

  await contribute(p.page);
  await expect.poll(async () => (await state(p.page)).uid, { timeout: 60_000 }).toBe(saved.uid);
  const lastSaved = saved.heights[saved.savedBlockCount - 1]!;
  await expect
    .poll(async () => Math.max(...(await state(p.page)).heights), { timeout: 60_000 })
    .toBeGreaterThan(lastSaved);
  const after = await state(p.page);
  expect(after.heights[0]).toBe(saved.heights[0]);
  // Strictly increasing heights: the history continued rather than restarting or duplicating.
  for (let i = 1; i < after.heights.length; i++)
    expect(after.heights[i]!).toBeGreaterThan(after.heights[i - 1]!);
  await p.page.screenshot({ path: join(ARTIFACTS_DIR, 'after-reload.png'), fullPage: true });
  expect(p.errors).toEqual([]);
});

test('closing a page: the others keep training and no longer count it online', async () => {
  const closing = pages[2]!;
  const goneId = (await state(closing.page)).peerId!;
  for (const [i, p] of pages.slice(0, 2).entries()) await recordPerf(`peer-${i + 1}`, p.page);
  await closing.context.close();
  pages.splice(2, 1);

  for (const p of pages) {
    // With bounded neighbourhoods (issue 14) a neighbour that leaves frees its gate slot: the peers
    // table shows it offline until this page's next step, then drops it. Either way, never online,
    // and the WebRTC link to it is gone.
    await expect
      .poll(
        async () => {
          const st = await state(p.page);
          const linked = await p.page.evaluate(
            (id) => window.__peerbench!.store.getState().links[id]?.state ?? 'none',
            goneId,
          );
          return st.onlinePeers.includes(goneId) || linked === 'connected';
        },
        { timeout: 60_000 },
      )
      .toBe(false);
    await expect(
      p.page.getByTestId('peers').locator(`tr[data-peer-id="${goneId}"][data-online="true"]`),
    ).toHaveCount(0);
    const stepBefore = (await state(p.page)).step;
    await expect
      .poll(async () => (await state(p.page)).step, { timeout: 30_000 })
      .toBeGreaterThan(stepBefore);
    expect((await state(p.page)).status).toBe('running');
  }
  await pages[0]!.page.screenshot({ path: join(ARTIFACTS_DIR, 'peer-offline.png'), fullPage: true });
  for (const [i, p] of pages.entries()) expect(p.errors, `page ${i}`).toEqual([]);
});
