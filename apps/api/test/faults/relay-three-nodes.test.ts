// Scenario e (SPEC I3, I6, I14): three nodes in a line, A — B — C: A and C never talk directly. Nodes
// leave and come back: C writes while only B reaches it (A is down), then C leaves and A comes back and
// gets C's writes through B, then C returns. Rows and files written anywhere reach everyone, and no
// acknowledged write is lost.
import { describe, expect, it } from 'vitest';
import { useTestDatabases } from '@catchup/testing';
import { Writer, bulkRows, expectConvergence, faultNode, fileTree, register, rowCount, seededRandom, sleep, until, writeFiles } from './scenario.ts';

const [dbA, dbB, dbC] = await useTestDatabases(3, 'frelay');
const a = await faultNode('frelay-a', dbA!.url);
const b = await faultNode('frelay-b', dbB!.url);
const c = await faultNode('frelay-c', dbC!.url);

describe('a three-node relay with nodes leaving and returning', () => {
  it("everything reaches everyone though A and C never talk; C's writes made while only B reached it reach A through B", async () => {
    const random = seededRandom('three-node relay');
    await Promise.all([a.start(), b.start(), c.start()]);
    for (const [x, y] of [
      [a, b],
      [b, a],
      [b, c],
      [c, b],
    ] as const)
      await register(x, y);
    await bulkRows(a, 1500, 'bulk-a');
    await bulkRows(c, 1500, 'bulk-c');
    await writeFiles(a, random.next, [{ name: 'a/start.bin', bytes: 300_000 }]);
    await expectConvergence([a, b, c], [], { files: true, timeoutMs: 45_000 });

    // A leaves; C writes rows and files while only B reaches it.
    await a.stop('SIGKILL');
    const writerC = new Writer('writer-c', c, random.next);
    writerC.start();
    const filesC = await writeFiles(c, random.next, [
      { name: 'c/while-a-away.bin', bytes: 800_000 },
      ...Array.from({ length: 10 }, (_, i) => ({ name: `c/small-${i}.dat`, bytes: random.between(500, 50_000) })),
    ]);
    const writerA = new Writer('writer-a', a, random.next); // the application on A writes though A's node is down
    writerA.start();
    await sleep(random.between(1500, 3000));
    await writerC.stop();
    const cIds = [...writerC.expected.keys()];
    await until('B to have the rows C wrote', async () => (await rowCount(b, `id = ANY('{${cIds.join(',')}}'::uuid[])`)) === cIds.length, 30_000, 200);
    await until(
      "B to have C's files",
      async () => {
        const tree = await fileTree(b);
        return Object.entries(filesC).every(([f, sha]) => tree[f] === sha);
      },
      30_000,
      200,
    );

    // C leaves; A comes back and gets C's writes from B.
    await c.stop('SIGTERM');
    await a.start();
    await until(
      "A to have C's rows and files through B",
      async () => {
        if ((await rowCount(a, `id = ANY('{${cIds.join(',')}}'::uuid[])`)) !== cIds.length) return false;
        const tree = await fileTree(a);
        return Object.entries(filesC).every(([f, sha]) => tree[f] === sha);
      },
      40_000,
      200,
    );

    // C returns; B writes meanwhile.
    const writerB = new Writer('writer-b', b, random.next);
    writerB.start();
    await c.start();
    await sleep(random.between(1000, 2000));
    await Promise.all([writerA.stop(), writerB.stop()]);
    const ms = await expectConvergence([a, b, c], [writerA, writerB, writerC], { files: true, timeoutMs: 60_000 });
    expect(await rowCount(a, `scouter = 'bulk-c'`)).toBe(1500);
    expect(await rowCount(c, `scouter = 'bulk-a'`)).toBe(1500);
    // A and C never talked: neither knows the other as a peer.
    const peersOf = async (n: typeof a) => (await n.pool.query<{ name: string }>('SELECT name FROM sync_servers ORDER BY name')).rows.map((r) => r.name);
    expect(await peersOf(a)).toEqual(['frelay-b']);
    expect(await peersOf(c)).toEqual(['frelay-b']);
    console.log(`[relay] seed ${random.seed}: converged ${ms} ms after C returned and the writers stopped`);
  }, 120_000);
});
