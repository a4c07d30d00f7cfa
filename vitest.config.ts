import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // one worker per core: some tests start worker threads of their own
    maxWorkers: 2,
  },
});
