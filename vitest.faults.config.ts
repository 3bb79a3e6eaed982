// The fault-injection suite (npm run test:faults): real node processes on real services, with faults
// injected under them (SPEC I14). Kept out of `npm test`, which stays the unit and integration suite.
import { defineConfig } from 'vitest/config';

const long = process.env.FAULTS_LONG === '1';

export default defineConfig({
  test: {
    include: ['apps/api/test/faults/**/*.test.ts'],
    globalSetup: ['packages/testing/src/global-setup.ts'],
    pool: 'forks',
    // Each scenario runs several node processes; two files at once is what a 2-core machine carries.
    maxWorkers: 2,
    testTimeout: long ? 600_000 : 120_000,
    hookTimeout: 120_000,
    reporters: ['default', ['json', { outputFile: '.test-results/faults.json' }]],
  },
});
