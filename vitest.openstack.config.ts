import { defineConfig } from 'vitest/config';

// The real-Nova suite: run by `npm run test:openstack` after the lab is up (see .ci/run).
export default defineConfig({
  test: {
    include: ['test/openstack/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
