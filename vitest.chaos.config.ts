// The randomized chaos run in CI (npm run test:chaos): one short seeded run of apps/api/test/chaos.
// Kept out of `npm test` and the fault suite; `npm run chaos` / `npm run soak` run longer ones.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['apps/api/test/chaos/**/*.test.ts'],
    pool: 'forks',
    // CHAOS_SECONDS of chaos + up to 180 s of settling + start-up and checks.
    testTimeout: 600_000,
    hookTimeout: 60_000,
    reporters: ['default', ['json', { outputFile: '.test-results/chaos.json' }]],
  },
});
