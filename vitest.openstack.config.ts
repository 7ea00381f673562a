import { defineConfig } from 'vitest/config';

// The real-Nova suite: run by `npm run test:openstack` after the lab is up (see .ci/run).
export default defineConfig({
  test: {
    include: ['test/openstack/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    pool: 'forks',
    // The JSON report lets .ci/run print one plain 'N passed, N failed' line for the whole run.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest-openstack.json' },
  },
});
