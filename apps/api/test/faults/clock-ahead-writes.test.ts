// Scenario f, continued (SPEC I13, I14): the application on a peer whose clock is an hour ahead writes
// while the clock is off — its rows are stamped an hour ahead, and so is every later write on that node,
// since its hybrid logical clock never goes back. Once the clock is fixed (process restarted without the
// offset), those rows, and the writes after them, should reach the other node.
//
// KNOWN FAILURE (found by this scenario): they do not, for as long as the stamps stay more than
// catchup_max_clock_skew_seconds ahead of the other node's clock — about an hour. Every batch holding one
// of them is refused ("hlc: … is 3549 s ahead of this node's clock, beyond catchup_max_clock_skew_seconds
// (300 s)"), which also holds back every later change of the peer's log. The check is left as it is.
import { describe, expect, it } from 'vitest';
import { createPool } from '@catchup/db';
import { useTestDatabases } from '@catchup/testing';
import { Writer, expectConvergence, faultNode, register, rowCount, scan, seededRandom, sleep, until, type FaultNode } from './scenario.ts';

const HOUR = 3_600_000;
const [dbA, dbB] = await useTestDatabases(2, 'fclockw');
const a = await faultNode('fclockw-a', dbA!.url);
const b = await faultNode('fclockw-b', dbB!.url);
const dbNameB = new URL(dbB!.url).pathname.slice(1);

describe('writes made on a peer while its clock was an hour ahead', () => {
  it('reach the other node once the clock is fixed', async () => {
    const random = seededRandom('writes while the clock is off');
    await a.pool.query(`ALTER DATABASE "${dbNameB}" SET catchup.clock_offset_ms = '${HOUR}'`);
    await Promise.all([a.start(), b.start()]);
    await register(a, b);
    await register(b, a);
    // B's application runs on B's machine, with B's clock: its sessions take the offset too.
    const aheadPool = createPool(dbB!.url, 2);
    const writerB = new Writer('writer-b-ahead', { pool: aheadPool } as FaultNode, random.next);
    const writerA = new Writer('writer-a', a, random.next);
    writerB.start();
    writerA.start();
    await scan(a);
    await until('A to log the refusal of B', async () => (await a.pool.query(`SELECT 1 FROM sync_logs WHERE status = 'failed'`)).rowCount! > 0, 15_000, 100);
    await sleep(1500);
    await writerB.stop();
    await aheadPool.end();
    expect(await rowCount(a, `scouter = 'writer-b-ahead'`)).toBe(0);

    // The clock is fixed; B's application goes on writing.
    await b.stop('SIGTERM');
    await a.pool.query(`ALTER DATABASE "${dbNameB}" RESET catchup.clock_offset_ms`);
    await b.start();
    const writerBFixed = new Writer('writer-b', b, random.next);
    writerBFixed.start();
    await sleep(2000);
    await Promise.all([writerA.stop(), writerBFixed.stop()]);
    await expectConvergence([a, b], [writerA, writerB, writerBFixed], { timeoutMs: 30_000 });
  }, 90_000);
});
