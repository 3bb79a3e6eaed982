// Scenario b (SPEC I14): the receiver's PostgreSQL (a private cluster) is restarted with `-m immediate`
// — every connection cut mid-query, like a crash — in the middle of a 20,000-row catch-up, while the
// application writes on both nodes. The receiver's process stays up and the nodes converge with every
// acknowledged write on both.
import { describe, expect, it } from 'vitest';
import { migrateDeploy } from '@catchup/db/migrations';
import { usePrivatePostgres, useTestDatabases } from '@catchup/testing';
import { LONG, catchupUnderWrites, expectConvergence, faultNode, rowCount, seededRandom, sleep, until } from './scenario.ts';

const ROWS = LONG ? 60_000 : 20_000;
const cluster = await usePrivatePostgres('fpg');
await migrateDeploy(cluster.url('catchup_b'));
const [dbA] = await useTestDatabases(1, 'fpg');
const a = await faultNode('fpg-a', dbA!.url);
const b = await faultNode('fpg-b', cluster.url('catchup_b'));

describe("the receiver's PostgreSQL restarted immediate mid catch-up", () => {
  it(
    'the receiver stays up and the nodes converge with no acknowledged write lost',
    async () => {
      const random = seededRandom('postgres restart mid catch-up');
      await Promise.all([a.start(), b.start()]);
      const writers = await catchupUnderWrites(a, b, random.next, { a: ROWS, b: 0 });

      await until('B to be applying batches', async () => (await rowCount(b, `scouter = 'bulk-a'`)) > 0, 30_000, 20);
      const restarts = LONG ? 4 : 2;
      for (let i = 0; i < restarts; i++) {
        await sleep(random.between(100, 1500));
        const got = await rowCount(b, `scouter = 'bulk-a'`).catch(() => -1);
        await cluster.restartImmediate();
        if (i === 0) expect(got, 'the first restart hit mid catch-up').toBeLessThan(ROWS);
        expect(b.alive(), `B died after a restart of its database:\n${b.output().slice(-3000)}`).toBe(true);
      }
      await until('B to be ready again', async () => (await fetch(`${b.url}/ready`)).status === 200, 15_000, 100);
      await sleep(1500);
      await Promise.all(writers.map((w) => w.stop()));
      expect(writers.every((w) => w.acknowledged > 0)).toBe(true);
      const ms = await expectConvergence([a, b], writers, { timeoutMs: 60_000 });
      expect(await rowCount(b, `scouter = 'bulk-a'`)).toBe(ROWS);
      // /metrics counts the faults ridden out: B's lost database connections, and the attempts that failed
      // (B's batches cut mid-query, A's pushes B answered with an error) and were run again.
      const metric = async (node: typeof a, name: string) =>
        (await (await fetch(`${node.url}/metrics`)).text())
          .split('\n')
          .filter((l) => l.startsWith(name))
          .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
      expect(await metric(b, 'catchup_database_connections_lost_total')).toBeGreaterThan(0);
      expect(await metric(a, 'catchup_database_connections_lost_total')).toBe(0);
      expect((await metric(a, 'catchup_job_retries_total')) + (await metric(b, 'catchup_job_retries_total'))).toBeGreaterThan(0);
      console.log(
        `[postgres restart] seed ${random.seed}: converged ${ms} ms after the writers stopped; writes acknowledged ${writers.map((w) => w.acknowledged).join('/')}, failed ${writers.map((w) => w.failed).join('/')}`,
      );
    },
    LONG ? 300_000 : 90_000,
  );
});
