// Scenario f (SPEC I13, I14): a peer whose clock is an hour ahead is refused — the reason is in the sync
// log and nothing of it is applied, in either direction — while writes go on; once its clock is right
// again (its process restarted), the nodes converge with every acknowledged write on both.
import { describe, expect, it } from 'vitest';
import { useTestDatabases } from '@catchup/testing';
import { Writer, bulkRows, expectConvergence, faultNode, register, rowCount, scan, seededRandom, sleep, until } from './scenario.ts';

const HOUR = 3_600_000;
const [dbA, dbB] = await useTestDatabases(2, 'fclock');
const a = await faultNode('fclock-a', dbA!.url);
const b = await faultNode('fclock-b', dbB!.url);
const dbNameB = new URL(dbB!.url).pathname.slice(1);

describe('a peer whose clock is an hour ahead', () => {
  it('is refused with the reason in the sync log and nothing of it applied; with its clock fixed, it converges', async () => {
    const random = seededRandom('clock far off');
    await a.start();
    await b.start();
    await register(a, b);
    await register(b, a);
    // B's rows, written while its clock was right.
    await bulkRows(b, 2000, 'bulk-b');
    await b.stop('SIGTERM');
    // A session takes the database's settings when it connects: B's process starts with its clock off.
    await a.pool.query(`ALTER DATABASE "${dbNameB}" SET catchup.clock_offset_ms = '${HOUR}'`);
    await b.start();

    const writerA = new Writer('writer-a', a, random.next);
    writerA.start();
    await bulkRows(a, 2000, 'bulk-a');
    await Promise.all([scan(a), scan(b)]);
    // Detection runs every second on both; each refuses the other with the reason, in sync_logs.
    const REFUSAL = /^clock offset [+-]\d+ ms exceeds catchup_max_clock_skew_seconds \(300 s\); fix the clock of fclock-[ab] or raise the setting$/;
    // A catch-up A started while B was restarting fails as unreachable, rightly; the refusals are the others.
    const refusals = async (n: typeof a) =>
      (
        await n.pool.query<{ error_message: string }>(
          `SELECT error_message FROM sync_logs WHERE operation = 'catch-up sync' AND status = 'failed' AND error_message LIKE 'clock offset%' ORDER BY id`,
        )
      ).rows;
    await until('A to log the refusal of B', async () => (await refusals(a)).length > 0, 15_000, 100);
    await until('B to log the refusal of A', async () => (await refusals(b)).length > 0, 15_000, 100);
    expect((await refusals(a))[0]!.error_message).toMatch(REFUSAL);
    expect((await refusals(a))[0]!.error_message).toMatch(/^clock offset \+\d+ ms .* fix the clock of fclock-b/);
    await sleep(3000);
    // Nothing crossed in either direction.
    expect(await rowCount(a, `scouter = 'bulk-b'`)).toBe(0);
    expect(await rowCount(b, `scouter IN ('bulk-a', 'writer-a')`)).toBe(0);
    expect(await a.pool.query(`SELECT 1 FROM sync_logs WHERE operation = 'catch-up sync' AND status IN ('completed', 'partial')`).then((r) => r.rowCount)).toBe(
      0,
    );
    expect([a.alive(), b.alive()]).toEqual([true, true]);

    // The clock is fixed: B restarts with the offset removed.
    await b.stop('SIGTERM');
    await a.pool.query(`ALTER DATABASE "${dbNameB}" RESET catchup.clock_offset_ms`);
    await b.start();
    const writerB = new Writer('writer-b', b, random.next);
    writerB.start();
    await sleep(2000);
    await Promise.all([writerA.stop(), writerB.stop()]);
    const ms = await expectConvergence([a, b], [writerA, writerB], { nudge: false, timeoutMs: 45_000 });
    expect(await rowCount(a, `scouter = 'bulk-b'`)).toBe(2000);
    console.log(`[clock] seed ${random.seed}: converged ${ms} ms after the writers stopped`);
  }, 90_000);
});
