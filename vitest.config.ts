import { defineConfig } from 'vitest/config';

// One vitest run covers every package; each package can also run alone with
// `pnpm --filter <name> test` (vitest's defaults inside that folder).
export default defineConfig({
  test: {
    projects: ['packages/*', 'signaling-server', 'apps/*', 'scripts'],
  },
});
