// Scenario a (SPEC I14): the Redis both nodes' queues live in is killed in the middle of a catch-up of
// ~20,000 rows in both directions, with the application writing on both nodes, and comes back empty —
// every job, the detection schedulers, the deduplication keys gone. Both processes stay up, their
// schedulers come back by themselves, and catch-up resumes from the cursors in PostgreSQL: the nodes end
// with the same tables and every acknowledged write on both.
import { describe, expect, it } from 'vitest';
import { usePrivateRedis, useTestDatabases } from '@catchup/testing';
import { LONG, catchupUnderWrites, expectConvergence, faultNode, rowCount, seededRandom, sleep, until } from './scenario.ts';

const ROWS = LONG ? 50_000 : 10_000; // per side
const redis = await usePrivateRedis();
const [dbA, dbB] = await useTestDatabases(2, 'fredis');
const a = await faultNode('fredis-a', dbA!.url, { REDIS_URL: redis.url });
const b = await faultNode('fredis-b', dbB!.url, { REDIS_URL: redis.url });

describe('Redis killed and restarted empty mid catch-up', () => {
  it(
    'both nodes stay up, get their schedulers back, and converge with no acknowledged write lost',
    async () => {
      const random = seededRandom('redis emptied mid catch-up');
      await Promise.all([a.start(), b.start()]);
      const writers = await catchupUnderWrites(a, b, random.next, { a: ROWS, b: ROWS });

      // Mid catch-up in both directions: each side has some of the other's rows, not all.
      await until(
        'both directions under way',
        async () => (await rowCount(b, `scouter = 'bulk-a'`)) > 0 && (await rowCount(a, `scouter = 'bulk-b'`)) > 0,
        30_000,
        20,
      );
      await sleep(random.between(0, 400));
      const midway = [await rowCount(b, `scouter = 'bulk-a'`), await rowCount(a, `scouter = 'bulk-b'`)];
      await redis.kill();
      expect(Math.min(...midway), 'the fault hit before a direction had finished').toBeLessThan(ROWS);

      await sleep(random.between(1000, 2500));
      expect([a.alive(), b.alive()], `a node died while Redis was down:\n${a.output().slice(-2000)}\n${b.output().slice(-2000)}`).toEqual([true, true]);
      await redis.start();

      // The schedulers come back by themselves (nobody scans from here on): /ready says so.
      for (const node of [a, b]) {
        await until(`${node.name}'s detection scheduler to be back`, async () => (await fetch(`${node.url}/ready`)).status === 200, 15_000, 100);
      }
      await sleep(2000);
      await Promise.all(writers.map((w) => w.stop()));
      expect(writers.every((w) => w.acknowledged > 0)).toBe(true);
      const ms = await expectConvergence([a, b], writers, { nudge: false, timeoutMs: 60_000 });
      expect(await rowCount(a, `scouter IN ('bulk-a', 'bulk-b')`)).toBe(2 * ROWS);
      console.log(
        `[redis emptied] seed ${random.seed}: converged ${ms} ms after the writers stopped; writes acknowledged ${writers.map((w) => w.acknowledged).join('/')}`,
      );
    },
    LONG ? 300_000 : 90_000,
  );
});
