import type { Browser, BrowserContext, Page } from '@playwright/test';

/** The signaling server's WebSocket URL for the running e2e server. */
export function signalingUrl(): string {
  const http = process.env.PEERBENCH_E2E_URL;
  if (!http) throw new Error('PEERBENCH_E2E_URL is not set (the global setup starts the server)');
  return `${http.replace(/^http/, 'ws')}/ws`;
}

export function uniqueRoom(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export interface TrackedPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions and console errors seen on this page. */
  errors: string[];
}

/**
 * A page in its own browser context: its own IndexedDB (so its own identity),
 * like a separate person's browser. Collects uncaught errors and console errors.
 */
export async function openTrackedPage(
  browser: Browser,
  viewport = { width: 1280, height: 900 },
): Promise<TrackedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  return { context, page, errors };
}
