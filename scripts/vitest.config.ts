import { defineProject } from 'vitest/config';

// The README entry-point checks (scripts/test): run in the root vitest run.
export default defineProject({
  test: { name: 'entry-points', include: ['test/**/*.test.ts'] },
});
