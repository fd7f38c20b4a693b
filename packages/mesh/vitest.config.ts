import { defineProject } from 'vitest/config';

// Lets `pnpm --filter @peerbench/mesh test` run inside this folder (otherwise vitest
// picks up the root config, whose project globs are relative to the root);
// the root run uses this file for this project too.
export default defineProject({
  test: { name: '@peerbench/mesh', include: ['test/**/*.test.ts'] },
});
