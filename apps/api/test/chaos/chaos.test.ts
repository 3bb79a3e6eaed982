// The short chaos run of CI (npm run test:chaos): three node processes under a seeded schedule of writes,
// partitions, SIGKILLs and scans, then healing; the checker's verdict is the test's. A failure prints the
// seed (CHAOS_SEED=<seed> npm run test:chaos, or npm run chaos -- --seed <seed>, replays its schedule),
// the failed checks with their first differing rows or files, and the schedule so far.
import { expect, it } from 'vitest';
import { formatReport, runChaos } from './chaos.ts';

const seconds = Number(process.env.CHAOS_SECONDS ?? 90);
const seed = process.env.CHAOS_SEED === undefined ? undefined : Number(process.env.CHAOS_SEED);

it(
  `${seconds} s of seeded chaos among three nodes, then healing: converged, nothing acknowledged lost, no partial file, every process alive`,
  async () => {
    const report = await runChaos({ seconds, ...(seed === undefined ? {} : { seed }), settleSeconds: 180, log: (line) => console.log(line) });
    const text = formatReport(report, 120);
    console.log(text);
    expect(report.failures, text).toEqual([]);
  },
  (seconds + 180 + 120) * 1000,
);
