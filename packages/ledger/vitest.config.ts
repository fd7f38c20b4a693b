import { defineProject } from 'vitest/config';

// Lets `pnpm --filter @peerbench/ledger test` run inside this folder (otherwise vitest
// picks up the root config, whose project globs are relative to the root);
// the root run uses this file for this project too.
// The NATS failover test kills servers and times a new producer against a
// lease: on 2 cores shared with the rest of the suite it starved (16 txs
// acknowledged in 15 s once). `npm test` runs it on its own right after the
// main run (`pnpm run test:isolated`, which sets PEERBENCH_RUN_ISOLATED).
const ISOLATED = ['test/nats/failover.test.ts'];

export default defineProject({
  test: {
    name: '@peerbench/ledger',
    include: process.env.PEERBENCH_RUN_ISOLATED ? ISOLATED : ['test/**/*.test.ts'],
    exclude: process.env.PEERBENCH_RUN_ISOLATED ? [] : ISOLATED,
  },
});
