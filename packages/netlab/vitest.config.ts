import { defineProject } from 'vitest/config';

// Lets `pnpm --filter @peerbench/netlab test` run inside this folder; the root run uses it too.
// The NAT tests build namespaces and start coturn: one file at a time keeps them from
// competing for the 2 cores.
export default defineProject({
  test: {
    name: '@peerbench/netlab',
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
