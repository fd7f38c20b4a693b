import { defineConfig } from 'vitest/config';

// Unit tests of the pure parts (store reducers, persistence migration, URL
// config) run in Node; nothing here needs a DOM.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
});
