/**
 * Builds the e2e flavour of apps/web (the app plus the test page with its
 * mesh, ledger and training harnesses, into apps/web/dist-e2e) and starts the real signaling server CLI on
 * 127.0.0.1 and a free port, serving it. Specs read the URL from
 * PEERBENCH_E2E_URL. The returned function is Playwright's teardown.
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { buildIfNeeded, startServerProcess } from '../../apps/web/scripts/lib.mjs';
import { E2E_DIR } from './paths.js';

export default async function globalSetup(): Promise<() => Promise<void>> {
  const staticDir = buildIfNeeded({ mode: 'e2e' });
  const logFile = join(E2E_DIR, 'test-results', 'server.log');
  const { child, url } = startServerProcess(
    ['--host', '127.0.0.1', '--port', '0', '--static', staticDir, '--memory-ledger'],
    {
      logFile,
    },
  );
  const httpUrl = await url;
  process.env.PEERBENCH_E2E_URL = httpUrl;
  process.env.PEERBENCH_E2E_STATIC_DIR = staticDir;
  console.log(`e2e: signaling server at ${httpUrl} (log: ${logFile})`);
  return async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  };
}
