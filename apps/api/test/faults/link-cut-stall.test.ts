// Scenario d (SPEC I14, F3): the link between two nodes (each registered at a TCP proxy's port, not its
// own) is cut — every connection reset, new ones refused — and later stalls — connections open, nothing
// forwarded, longer than a peer waits — in the middle of a catch-up of rows and some MB of files, then
// heals. The nodes converge: the same tables and file trees, every file whole (the sha256 it was written
// with), every acknowledged write on both.
import { describe, expect, it } from 'vitest';
import { startTcpProxy, useTestDatabases } from '@catchup/testing';
import {
  LONG,
  Writer,
  bulkRows,
  expectConvergence,
  faultNode,
  fileTree,
  register,
  rowCount,
  scan,
  seededRandom,
  sleep,
  until,
  writeFiles,
} from './scenario.ts';

const ROWS = LONG ? 40_000 : 10_000;
const [dbA, dbB] = await useTestDatabases(2, 'flink');
const a = await faultNode('flink-a', dbA!.url);
const b = await faultNode('flink-b', dbB!.url);

describe('a link that cuts, then stalls, mid-transfer', () => {
  it(
    'after healing, the nodes converge: same tables, same file trees, every file whole, no acknowledged write lost',
    async () => {
      const random = seededRandom('link cut and stall');
      await Promise.all([a.start(), b.start()]);
      const toA = await startTcpProxy({ port: a.port });
      const toB = await startTcpProxy({ port: b.port });
      await register(a, b, toB.port);
      await register(b, a, toA.port);

      const big = LONG ? 12 : 6;
      const filesA = await writeFiles(a, random.next, [
        ...Array.from({ length: big }, (_, i) => ({ name: `big/a-${i}.bin`, bytes: 1_500_000 + random.between(0, 1_000_000) })),
        ...Array.from({ length: 30 }, (_, i) => ({ name: `small/a-${i}.dat`, bytes: random.between(1000, 120_000) })),
      ]);
      const filesB = await writeFiles(b, random.next, [
        ...Array.from({ length: 2 }, (_, i) => ({ name: `big/b-${i}.bin`, bytes: 1_000_000 + random.between(0, 1_000_000) })),
        ...Array.from({ length: 15 }, (_, i) => ({ name: `small/b-${i}.dat`, bytes: random.between(1000, 120_000) })),
      ]);
      const everyFile = { ...filesA, ...filesB };
      await bulkRows(a, ROWS, 'bulk-a');
      await bulkRows(b, ROWS / 5, 'bulk-b');
      const writers = [new Writer('writer-a', a, random.next), new Writer('writer-b', b, random.next)];
      for (const w of writers) w.start();
      const arrived = async () => (await rowCount(b, `scouter = 'bulk-a'`)) + Object.keys(await fileTree(b)).length;
      await Promise.all([scan(a), scan(b)]);

      // Cut as soon as something has crossed.
      await until('the catch-up to be under way', async () => (await arrived()) > Object.keys(filesB).length, 30_000, 10);
      await sleep(random.between(0, 200));
      const atCut = await arrived();
      toA.cut();
      toB.cut();
      expect(atCut, 'the cut hit mid-transfer').toBeLessThan(ROWS + Object.keys(everyFile).length);
      await sleep(random.between(1500, 3000));
      toA.heal();
      toB.heal();

      // Stall once transfers run again, for longer than a peer waits (CATCHUP_CONNECTION_TIMEOUT=5).
      await until('transfers to resume', async () => (await arrived()) > atCut, 30_000, 10);
      await sleep(random.between(0, 300));
      const atStall = await arrived();
      toA.stall();
      toB.stall();
      await sleep(random.between(6000, 8000));
      expect([a.alive(), b.alive()]).toEqual([true, true]);
      toA.heal();
      toB.heal();

      await sleep(1000);
      await Promise.all(writers.map((w) => w.stop()));
      const ms = await expectConvergence([a, b], writers, { files: true, timeoutMs: 60_000 });
      // Every file on both nodes is the one written, whole: no partial or corrupt version won anywhere.
      expect(await fileTree(a)).toEqual(everyFile);
      expect(await fileTree(b)).toEqual(everyFile);
      expect(await rowCount(b, `scouter = 'bulk-a'`)).toBe(ROWS);
      console.log(
        `[link] seed ${random.seed}: cut at ${atCut}, stalled at ${atStall} of ${ROWS + Object.keys(everyFile).length} (rows + files on B); converged ${ms} ms after healing and the writers stopped`,
      );
    },
    LONG ? 300_000 : 100_000,
  );
});
