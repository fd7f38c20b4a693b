/**
 * Issue 14, tried as a new user would: two separate browser contexts (two
 * people) open the bare URL, land in the server's public network, press
 * Contribute and end up training with each other. And a private room is one
 * click away.
 */
import { expect, type Page, test } from '@playwright/test';
import { openTrackedPage, type TrackedPage } from '../src/helpers.js';

test.describe.configure({ mode: 'serial' });

const opened: TrackedPage[] = [];

test.afterAll(async () => {
  for (const p of opened) await p.context.close().catch(() => {});
});

function trainingState(page: Page) {
  return page.evaluate(() => {
    const s = window.__peerbench!.store.getState();
    return {
      peerId: s.peerId,
      room: s.launch.room,
      step: s.snapshot?.step ?? 0,
      online: s.snapshot?.peers.filter((p) => !p.isSelf && p.online).map((p) => p.peerId) ?? [],
      answersAccepted: s.snapshot?.stats?.answersAccepted ?? 0,
    };
  });
}

test('two people opening the bare URL train with each other in the public network', async ({ browser }) => {
  const people = [await openTrackedPage(browser), await openTrackedPage(browser)];
  opened.push(...people);
  for (const p of people) {
    await p.page.goto('/');
    await expect(p.page.getByTestId('room')).toHaveText('public');
    await expect(p.page.getByTestId('room-kind')).toContainText('public network');
  }
  for (const p of people) await p.page.getByTestId('contribute').click({ timeout: 60_000 });
  const ids = await Promise.all(people.map(async (p) => (await trainingState(p.page)).peerId));
  for (const [i, p] of people.entries()) {
    const other = ids[1 - i];
    await expect.poll(async () => (await trainingState(p.page)).online, { timeout: 90_000 }).toContain(other);
    // Training with each other: this page's model used answers from the other's.
    await expect
      .poll(async () => (await trainingState(p.page)).answersAccepted, { timeout: 90_000 })
      .toBeGreaterThan(0);
    expect((await trainingState(p.page)).room).toBe('public');
  }
  for (const [i, p] of people.entries()) expect(p.errors, `person ${i}`).toEqual([]);
});

test('a private room is one click away, and the public network one click back', async ({ browser }) => {
  const p = await openTrackedPage(browser);
  opened.push(p);
  await p.page.goto('/');
  await p.page.getByTestId('private-room').click();
  await expect(p.page.getByTestId('room-kind')).toContainText('private room');
  const room = new URL(p.page.url()).searchParams.get('room');
  expect(room).toMatch(/^[a-z]+-[a-z]+-\d{4}$/);
  await expect(p.page.getByTestId('room')).toHaveText(room ?? '');
  expect(new URL(await p.page.getByTestId('share-url').inputValue()).searchParams.get('room')).toBe(room);
  await p.page.getByTestId('public-room').click();
  await expect(p.page.getByTestId('room')).toHaveText('public');
});
