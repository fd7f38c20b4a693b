import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, findChromium } from './src/chromium.js';

/**
 * The whole suite runs against one real signaling server (started by
 * src/global-setup.ts on 127.0.0.1 and a free port, serving the e2e build of
 * apps/web) and Debian's headless Chromium. One worker: the specs open several
 * pages that each train a model, and this machine has two cores.
 */
export default defineConfig({
  testDir: './test',
  testMatch: '*.spec.ts',
  globalSetup: './src/global-setup.ts',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 150_000,
  expect: { timeout: 30_000 },
  outputDir: './test-results',
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: findChromium(), args: CHROMIUM_ARGS },
    baseURL: process.env.PEERBENCH_E2E_URL,
    trace: 'off',
    screenshot: 'off',
  },
});
