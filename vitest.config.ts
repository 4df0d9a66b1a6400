import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests spawn real processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
    // What tests poll for (a process started, a log line, a file) can take seconds on a loaded 2-core
    // machine; a poll that succeeds returns at once, so a long limit costs nothing when all is well.
    expect: { poll: { timeout: 10_000 } },
  },
});
