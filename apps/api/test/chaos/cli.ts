// npm run chaos -- --seconds N [--seed S] [--settle S] [--keep]   (CHAOS_SEED=S replays too)
// npm run soak -- --minutes M [--seed S]                           (the same run, longer)
// Exits 1 when a check failed, after printing the seed, the failed checks and the schedule so far.
import { parseArgs } from 'node:util';
import { formatReport, runChaos } from './chaos.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    minutes: { type: 'string' },
    seed: { type: 'string' },
    settle: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const number = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name}: expected a number, got ${text}`);
    process.exit(2);
  }
  return n;
};
const seconds = number('seconds', values.seconds) ?? (number('minutes', values.minutes) ?? 1) * 60;
const seed = number('seed', values.seed ?? process.env.CHAOS_SEED);
const settle = number('settle', values.settle);

// Ctrl-C or a timeout's SIGTERM: exit, which SIGKILLs the node processes (see chaos.ts).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const report = await runChaos({
  seconds,
  ...(seed === undefined ? {} : { seed }),
  ...(settle === undefined ? {} : { settleSeconds: settle }),
  keepOnFailure: values.keep,
});
console.log(formatReport(report, 200));
process.exit(report.ok ? 0 : 1);
