// Scenario f, continued (SPEC I13, I14): the application on a peer whose clock is an hour ahead writes
// while the clock is off — its rows are stamped an hour ahead, and so is every later write on that node,
// since its hybrid logical clock never goes back. Once the clock is fixed, the other node still refuses
// those stamps, loudly (the reason in its sync log), until its own clock reaches them or an operator
// raises catchup_max_clock_skew_seconds above the gap; then everything converges and no write is lost.
// Accepting them at once would be the clock poisoning the bound exists to stop.
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
  it('are refused with the reason until the bound covers them, then converge with nothing lost', async () => {
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
    await until(
      'A to log the refusal of B',
      async () => (await a.pool.query(`SELECT 1 FROM sync_logs WHERE status = 'failed' AND error_message LIKE 'clock offset%'`)).rowCount! > 0,
      15_000,
      100,
    );
    await sleep(1500);
    await writerB.stop();
    await aheadPool.end();
    expect(await rowCount(a, `scouter = 'writer-b-ahead'`)).toBe(0);

    // The clock is fixed; B's application goes on writing (still an hour ahead: its clock never goes back).
    await b.stop('SIGTERM');
    await a.pool.query(`ALTER DATABASE "${dbNameB}" RESET catchup.clock_offset_ms`);
    await b.start();
    const writerBFixed = new Writer('writer-b', b, random.next);
    writerBFixed.start();
    await sleep(2000);
    await Promise.all([writerA.stop(), writerBFixed.stop()]);

    // A catches up with B now (their clocks agree), but refuses B's stamps, saying why.
    await scan(a);
    await until(
      "A's sync log to name the stamps beyond the bound",
      async () =>
        (await a.pool.query(`SELECT 1 FROM sync_logs WHERE error_message ~ 'ahead of this node''s clock, beyond catchup_max_clock_skew_seconds'`)).rowCount! >
        0,
      30_000,
      100,
    );
    expect(await rowCount(a, `scouter IN ('writer-b-ahead', 'writer-b')`)).toBe(0);

    // The operator lets the gap in (or waits an hour): everything converges, nothing is lost.
    const raised = await fetch(`${a.url}/api/sync/config`, {
      method: 'PUT',
      headers: { 'x-api-key': a.key, 'content-type': 'application/json' },
      body: JSON.stringify({ catchup_max_clock_skew_seconds: 2 * 3600 }),
    });
    expect(raised.status).toBe(200);
    await scan(a);
    await expectConvergence([a, b], [writerA, writerB, writerBFixed], { timeoutMs: 30_000 });
  }, 90_000);
});
