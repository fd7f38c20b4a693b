import { defineConfig } from 'vitest/config';

// One vitest run covers every package; each package can also run alone with
// `pnpm --filter <name> test` (vitest's defaults inside that folder).
export default defineConfig({
  test: {
    projects: [
      'packages/*',
      'signaling-server',
      'apps/*',
      // Checks over the whole repository (READMEs against package.json), not one package.
      { test: { name: 'repo', root: '.', include: ['scripts/test/**/*.test.ts'] } },
    ],
  },
});
