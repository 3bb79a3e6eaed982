import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    // The fault-injection suite runs on its own: npm run test:faults (vitest.faults.config.ts).
    // So does the chaos run: npm run test:chaos (vitest.chaos.config.ts).
    exclude: ['**/node_modules/**', 'apps/api/test/faults/**', 'apps/api/test/chaos/**'],
    globalSetup: ['packages/testing/src/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: ['default', ['json', { outputFile: '.test-results/vitest.json' }]],
  },
});
