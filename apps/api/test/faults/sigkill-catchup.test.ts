// Scenario c (SPEC I14): node processes SIGKILLed at seeded random points of a catch-up in both
// directions (2–3 kills, either node), each restarted at once on the same port, database and data folder,
// while the application writes on both. Jobs a killed process held are taken back as stalled, or redone
// by the next detection from the cursors; the nodes converge with every acknowledged write on both and
// every change applied once.
import { describe, expect, it } from 'vitest';
import { useTestDatabases } from '@catchup/testing';
import { LONG, catchupUnderWrites, expectConvergence, faultNode, rowCount, seededRandom, sleep, until } from './scenario.ts';

const ROWS = LONG ? 40_000 : 15_000;
const [dbA, dbB] = await useTestDatabases(2, 'fkill');
const a = await faultNode('fkill-a', dbA!.url);
const b = await faultNode('fkill-b', dbB!.url);

describe('SIGKILL at random points of a catch-up', () => {
  it(
    'each killed node restarts and the nodes converge with no acknowledged write lost and no change applied twice',
    async () => {
      const random = seededRandom('sigkill mid catch-up');
      await Promise.all([a.start(), b.start()]);
      const writers = await catchupUnderWrites(a, b, random.next, { a: ROWS, b: Math.floor(ROWS / 3) });
      await until('the catch-up to be under way', async () => (await rowCount(b, `scouter = 'bulk-a'`)) > 0, 30_000, 20);

      const kills = LONG ? 6 : random.between(2, 3);
      const killed: string[] = [];
      for (let i = 0; i < kills; i++) {
        await sleep(random.between(200, 1500));
        const victim = random.next() < 0.5 ? a : b;
        killed.push(`${victim.name}@${await rowCount(b, `scouter = 'bulk-a'`)}`);
        await victim.stop('SIGKILL');
        await sleep(random.between(0, 1000));
        await victim.start();
      }
      await sleep(1000);
      await Promise.all(writers.map((w) => w.stop()));
      const ms = await expectConvergence([a, b], writers, { timeoutMs: 75_000 });
      // Every change is in each log once: B holds all of A's bulk rows, and no identity twice (unique index),
      // and the change counts of both logs agree for the other's origin.
      expect(await rowCount(b, `scouter = 'bulk-a'`)).toBe(ROWS);
      const foreign = async (n: typeof a) =>
        Number(
          (await n.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM database_changes WHERE origin_node_id <> (SELECT node_id FROM sync_node)`))
            .rows[0]!.n,
        );
      const own = async (n: typeof a) =>
        Number(
          (await n.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM database_changes WHERE origin_node_id = (SELECT node_id FROM sync_node)`))
            .rows[0]!.n,
        );
      expect(await foreign(b)).toBe(await own(a));
      expect(await foreign(a)).toBe(await own(b));
      console.log(`[sigkill] seed ${random.seed}: kills ${killed.join(', ')}; converged ${ms} ms after the writers stopped`);
    },
    LONG ? 300_000 : 100_000,
  );
});
