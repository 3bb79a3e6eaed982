// Scenario c, split processes (SPEC I14): node A runs as an API process without workers and two worker
// processes (as `npm run worker` starts them); its API and worker processes are SIGKILLed at seeded
// random points of a catch-up in both directions and restarted, while the application writes on both
// nodes. Jobs a killed worker held are taken back as stalled by the other worker or its restart; the
// nodes converge with every acknowledged write on both and every change in each log once.
import { describe, expect, it } from 'vitest';
import { useTestDatabases } from '@catchup/testing';
import { workerProcess } from './node-process.ts';
import { LONG, catchupUnderWrites, expectConvergence, faultNode, rowCount, seededRandom, sleep, until } from './scenario.ts';

const ROWS = LONG ? 40_000 : 15_000;
const [dbA, dbB] = await useTestDatabases(2, 'fsplit');
const a = await faultNode('fsplit-a', dbA!.url, { RUN_WORKERS: 'false' });
const b = await faultNode('fsplit-b', dbB!.url);
const workersA = [workerProcess('fsplit-a', a.env), workerProcess('fsplit-a', a.env)];

describe('SIGKILL of API and worker processes at random points of a catch-up', () => {
  it(
    'each killed process restarts and the nodes converge with no acknowledged write lost and no change applied twice',
    async () => {
      const random = seededRandom('sigkill of split processes');
      await Promise.all([a.start(), b.start(), ...workersA.map((w) => w.start())]);
      const writers = await catchupUnderWrites(a, b, random.next, { a: ROWS, b: Math.floor(ROWS / 3) });
      await until(
        'the catch-up to be under way',
        async () => (await rowCount(b, `scouter = 'bulk-a'`)) + (await rowCount(a, `scouter = 'bulk-b'`)) > 0,
        30_000,
        20,
      );

      const victims = [
        { name: 'api', stop: () => a.stop('SIGKILL'), start: () => a.start() },
        ...workersA.map((w, i) => ({ name: `worker-${i + 1}`, stop: () => w.stop('SIGKILL'), start: () => w.start() })),
      ];
      const kills = LONG ? 8 : 3;
      const killed: string[] = [];
      for (let i = 0; i < kills; i++) {
        await sleep(random.between(200, 1500));
        const victim = victims[random.between(0, victims.length - 1)]!;
        killed.push(`${victim.name}@${await rowCount(b, `scouter = 'bulk-a'`)}`);
        await victim.stop();
        await sleep(random.between(0, 1000));
        await victim.start();
      }
      await sleep(1000);
      await Promise.all(writers.map((w) => w.stop()));
      const ms = await expectConvergence([a, b], writers, { timeoutMs: 75_000 });
      expect(workersA.map((w) => w.alive())).toEqual([true, true]);
      expect(await rowCount(b, `scouter = 'bulk-a'`)).toBe(ROWS);
      const count = async (n: typeof a, op: '=' | '<>') =>
        Number(
          (await n.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM database_changes WHERE origin_node_id ${op} (SELECT node_id FROM sync_node)`))
            .rows[0]!.n,
        );
      expect(await count(b, '<>')).toBe(await count(a, '='));
      expect(await count(a, '<>')).toBe(await count(b, '='));
      console.log(`[sigkill split] seed ${random.seed}: kills ${killed.join(', ')}; converged ${ms} ms after the writers stopped`);
    },
    LONG ? 300_000 : 100_000,
  );
});
