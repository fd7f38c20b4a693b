/**
 * Issue 14: an axe-core WCAG 2 A/AA check of the landing page and the
 * dashboard (desktop and phone-sized), 0 violations. Before this the
 * dashboard had two serious ones: the contrast of the "you" tag and a
 * scrollable table a keyboard could not reach.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, type Page, test } from '@playwright/test';
import { openTrackedPage, type TrackedPage, uniqueRoom } from '../src/helpers.js';

test.describe.configure({ mode: 'serial' });

const PHONE = { width: 390, height: 844 };
const opened: TrackedPage[] = [];

test.afterAll(async () => {
  for (const p of opened) await p.context.close().catch(() => {});
});

async function violations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze();
  return result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
}

test('the landing page has no WCAG 2 A/AA violations, on a desktop and on a phone', async ({ browser }) => {
  for (const viewport of [undefined, PHONE]) {
    const p = await openTrackedPage(browser, viewport);
    opened.push(p);
    await p.page.goto('/');
    await expect(p.page.getByTestId('room')).toHaveText('public');
    await expect(p.page.getByTestId('contribute')).toBeEnabled({ timeout: 60_000 });
    expect(await violations(p.page)).toEqual([]);
  }
});

test('the dashboard has no WCAG 2 A/AA violations, on a desktop and on a phone', async ({ browser }) => {
  const room = uniqueRoom('a11y');
  for (const viewport of [undefined, PHONE]) {
    const p = await openTrackedPage(browser, viewport);
    opened.push(p);
    await p.page.goto(`/?room=${room}&backend=wasm`);
    await p.page.getByTestId('contribute').click({ timeout: 60_000 });
    await expect(p.page.getByTestId('connection')).toHaveText('connected', { timeout: 90_000 });
    // With a block in: the network panel, the peers table and the charts have content.
    await expect(p.page.getByTestId('height')).not.toHaveText('—', { timeout: 90_000 });
    await expect(p.page.getByTestId('network-size')).not.toHaveText('—');
    expect(await violations(p.page)).toEqual([]);
    // The scrollable table is reachable from the keyboard.
    await p.page.locator('.table-scroll').first().focus();
    await expect(p.page.locator('.table-scroll').first()).toBeFocused();
    expect(p.errors).toEqual([]);
  }
});
