/**
 * Issue 8: the server is down when a person presses Contribute. The page says
 * so in words (not a spinner), keeps retrying by itself, and recovers —
 * connects, registers and trains — once the server comes up on that address.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { startServerProcess } from '../../apps/web/scripts/lib.mjs';
import { openTrackedPage, uniqueRoom } from '../src/helpers.js';
import { ARTIFACTS_DIR, E2E_DIR } from '../src/paths.js';

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

function startServer(port: number, log: string) {
  return startServerProcess(
    [
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--static',
      process.env.PEERBENCH_E2E_STATIC_DIR!,
      '--memory-ledger',
    ],
    { logFile: join(E2E_DIR, 'test-results', log) },
  );
}

async function stopServer(server: ReturnType<typeof startServer>) {
  if (server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }
}

test('server down at start: a clear error, then recovery when it comes up', async ({ browser }) => {
  // The page is loaded from a server that then goes away (an open tab whose server restarts):
  // pressing Contribute finds nobody to talk to on the page's own origin.
  const port = await freePort();
  const room = uniqueRoom('down');
  let server = startServer(port, 'server-down-1.log');
  const p = await openTrackedPage(browser);
  const uncaught: string[] = [];
  p.page.on('pageerror', (e) => uncaught.push(e.message));
  try {
    const origin = await server.url;
    // ?cpu=balanced rides along: this page trains alone, so it does not disturb the perf figures of app.spec.
    await p.page.goto(`${origin}/?room=${room}&backend=wasm&cpu=balanced`);
    await expect(p.page.getByTestId('contribute')).toBeEnabled({ timeout: 30_000 });
    await expect(p.page.getByTestId('cpu-balanced')).toBeChecked();
    await stopServer(server);

    await p.page.getByTestId('contribute').click();
    const notice = p.page.locator('.notice[data-code="server-unreachable"]');
    await expect(notice).toBeVisible({ timeout: 90_000 });
    await expect(notice).toContainText(`127.0.0.1:${port}`);
    await expect(p.page.getByTestId('connection')).not.toHaveText('connected');
    await p.page.screenshot({ path: join(ARTIFACTS_DIR, 'server-down.png'), fullPage: true });

    server = startServer(port, 'server-down-2.log');
    await server.url;
    await expect(p.page.getByTestId('connection')).toHaveText('connected', { timeout: 60_000 });
    await expect(notice).toHaveCount(0, { timeout: 30_000 });
    await expect
      .poll(() => p.page.evaluate(() => window.__peerbench!.store.getState().snapshot?.uid ?? null), {
        timeout: 60_000,
      })
      .not.toBeNull();
    await expect
      .poll(() => p.page.evaluate(() => window.__peerbench!.store.getState().snapshot?.step ?? 0), {
        timeout: 30_000,
      })
      .toBeGreaterThan(0);
    // The worker started at the level of the link and says so; a keyboard change applies live.
    const cpu = p.page.getByTestId('cpu-use');
    await expect(cpu).toHaveAttribute('data-applied', 'balanced');
    await expect(p.page.getByTestId('cpu-in-use')).toHaveText('CPU: balanced');
    await p.page.getByTestId('cpu-balanced').focus();
    await p.page.keyboard.press('ArrowRight');
    await expect(p.page.getByTestId('cpu-full')).toBeChecked();
    await expect(cpu).toHaveAttribute('data-applied', 'full', { timeout: 15_000 });
    await expect(p.page.getByTestId('cpu-in-use')).toHaveText('CPU: full');
    expect(new URL(p.page.url()).searchParams.get('cpu')).toBe('full');
    await p.page.screenshot({ path: join(ARTIFACTS_DIR, 'server-recovered.png'), fullPage: true });
    // Failed WebSocket attempts are logged by the browser itself; what must not happen is an uncaught exception.
    expect(uncaught).toEqual([]);
  } finally {
    await p.context.close();
    await stopServer(server);
  }
});
