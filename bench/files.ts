// Benchmark: file catch-up of 200 modified and 100 new files in a 2,000-file tree, against
// `rsync -a --checksum` of the same change to an rsync daemon on 127.0.0.1 (see ../shared/ANCHORS.md).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dropBenchDatabases, freshMigratedDatabase } from './databases.ts';
import { freePort } from '@catchup/testing/services';
import type { LinkBytes, ThrottledLink } from '@catchup/testing/throttled-link';
import { bytesAcross, postScan, register, startNodeProcess, stop, type NodeProcess } from './catchup.ts';
import { processCpuSeconds } from './cpu.ts';
import { eachRound, median, printTable, timed } from './report.ts';

const PREFIX = 'catchup_bench_files_';

function sizeFor(i: number): number {
  // 90% 2–50 KB, 10% 1–5 MB, deterministic.
  const r = ((i * 2654435761) >>> 0) / 2 ** 32;
  return i % 10 === 0 ? 1_048_576 + Math.floor(r * 4 * 1_048_576) : 2048 + Math.floor(r * 48 * 1024);
}

async function makeTree(root: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const file = path.join(root, 'uploads', `team-${i % 50}`, `photo-${i}.bin`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, randomBytes(sizeFor(i)));
  }
}

async function changeTree(root: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const n = i * 10 + 1; // mostly small files, like the tree
    await writeFile(path.join(root, 'uploads', `team-${n % 50}`, `photo-${n}.bin`), randomBytes(sizeFor(n)));
  }
  for (let i = 0; i < 100; i++) {
    const file = path.join(root, 'uploads', 'new', `photo-new-${i}.bin`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, randomBytes(sizeFor(i + 5000)));
  }
}

async function scan(node: NodeProcess): Promise<{ uploaded: number }> {
  const { body } = await postScan<{ results: { success: boolean; errors: string[]; file_changes: { uploaded: number } }[] }>(node);
  if (!body.results[0]?.success) throw new Error(`scan failed: ${JSON.stringify(body).slice(0, 400)}`);
  return body.results[0].file_changes;
}

/** Writes the tree copies' dirty pages out first, so that neither timed run pays for the set-up's writeback. */
function flushDisk(): void {
  execFileSync('sync');
}

function ensureRsync(): boolean {
  try {
    execFileSync('rsync', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    try {
      execFileSync('apt-get', ['install', '-y', '-q', 'rsync'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }
}

/** `--fsync` came with rsync 3.2.4. */
function rsyncHasFsync(): boolean {
  return execFileSync('rsync', ['--help'], { encoding: 'utf8' }).includes('--fsync');
}

export interface Timed {
  seconds: number;
  /** Bytes across the link while timed, when the run went through one. */
  wire?: LinkBytes;
}

/** Times `work`, and counts the bytes it moved across `link` when given. */
async function timedAcross(link: ThrottledLink | undefined, work: () => Promise<void>): Promise<Timed> {
  let wire: LinkBytes | undefined;
  const seconds = await timed(async () => {
    if (link) wire = await bytesAcross(link, work);
    else await work();
  });
  return { seconds, ...(wire ? { wire } : {}) };
}

/**
 * `rsync -a --checksum` of the changed tree to a daemon holding the original. Through `link` (the daemon on
 * side b) it runs with `-z`, rsync's own compression, as a slow link asks for. `fsync`: the daemon fsyncs
 * every file it writes (`--fsync`), as our receiver does before each rename (F3) and rsync does not by default.
 */
async function rsyncBaseline(original: string, changed: string, work: string, link?: ThrottledLink, fsync = false): Promise<Timed> {
  const module = path.join(work, fsync ? 'rsync-dest-fsync' : 'rsync-dest');
  await cp(original, module, { recursive: true, preserveTimestamps: true });
  // Each run's daemon its own pid file: the last one's may not be gone yet.
  const conf = `${module}.conf`;
  await writeFile(conf, `pid file = ${module}.pid\nuse chroot = false\n[bench]\n  path = ${module}\n  read only = false\n  uid = root\n  gid = root\n`);
  const port = await freePort();
  const daemon = spawn('rsync', ['--daemon', '--no-detach', `--port=${port}`, `--config=${conf}`, '--address=127.0.0.1'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const daemonPort = link ? await link.expose({ port }, 'b') : port;
    flushDisk();
    // Not execFileSync: the link forwards rsync's bytes on this process's event loop.
    return await timedAcross(link, async () => {
      const options = ['-a', '--checksum', ...(link ? ['-z'] : []), ...(fsync ? ['--fsync'] : [])];
      await promisify(execFile)('rsync', [...options, `${changed}/`, `rsync://127.0.0.1:${daemonPort}/bench/`]);
    });
  } finally {
    daemon.kill();
  }
}

export interface FileFigures {
  ours: Timed;
  /** CPU seconds each node's process used during our catch-up. */
  cpu: { a: number; b: number };
  /** Absent when rsync could not be installed. */
  rsync?: Timed;
  /** rsync with `--fsync`, on loopback only. */
  rsyncFsync?: Timed;
}

/**
 * 200 modified and 100 new files on A after a first sync of a `count`-file tree, caught up by B (timed),
 * then the same change sent by rsync to a daemon holding the original tree. With `link`, A and the rsync
 * client are on side a, B and the daemon on side b.
 */
export async function fileCatchup(count: number, link?: ThrottledLink): Promise<FileFigures> {
  const work = await mkdtemp(path.join(tmpdir(), 'catchup-bench-files-'));
  const [dirA, dirB, original] = ['a', 'b', 'original'].map((d) => path.join(work, d)) as [string, string, string];
  let a: NodeProcess | undefined;
  let b: NodeProcess | undefined;
  try {
    await makeTree(original, count);
    await cp(original, dirA, { recursive: true, preserveTimestamps: true });
    await cp(original, dirB, { recursive: true, preserveTimestamps: true });
    await dropBenchDatabases(PREFIX);
    await freshMigratedDatabase(`${PREFIX}a`);
    await freshMigratedDatabase(`${PREFIX}b`);
    a = await startNodeProcess('files-a', `${PREFIX}a`, await freePort(), { DATA_DIR: dirA });
    b = await startNodeProcess('files-b', `${PREFIX}b`, await freePort(), { DATA_DIR: dirB });
    await register(a, b, 'files-b', link ? await link.expose({ port: b.port }, 'b') : b.port);
    await register(b, a, 'files-a', link ? await link.expose({ port: a.port }, 'a') : a.port);
    await scan(a); // first sync: both sides hash their trees and agree on a base (not timed)
    await changeTree(dirA);
    const changed = path.join(work, 'changed');
    await cp(dirA, changed, { recursive: true, preserveTimestamps: true });
    let moved = 0;
    flushDisk();
    const [cpuA, cpuB] = [processCpuSeconds(a.child.pid!), processCpuSeconds(b.child.pid!)];
    const ours = await timedAcross(link, async () => {
      moved = (await scan(a!)).uploaded;
    });
    const cpu = { a: processCpuSeconds(a.child.pid!) - cpuA, b: processCpuSeconds(b.child.pid!) - cpuB };
    if (moved !== 300) throw new Error(`expected 300 files moved, got ${moved}`);
    await stop(a);
    await stop(b);
    [a, b] = [undefined, undefined];
    if (!ensureRsync()) return { ours, cpu };
    const rsync = await rsyncBaseline(original, changed, work, link);
    if (link || !rsyncHasFsync()) return { ours, cpu, rsync };
    return { ours, cpu, rsync, rsyncFsync: await rsyncBaseline(original, changed, work, undefined, true) };
  } finally {
    if (a) await stop(a);
    if (b) await stop(b);
    await dropBenchDatabases(PREFIX);
    await rm(work, { recursive: true, force: true });
  }
}

export async function benchFiles(): Promise<void> {
  const count = Number(process.env.BENCH_FILES ?? 2000);
  // Both contenders take well under a second here, and one run of either can take half again as long
  // as the next on this kind of machine: the figures are medians of several rounds, each round timing
  // ours and then rsync on the same change.
  const rounds = Math.max(1, Number(process.env.BENCH_FILE_ROUNDS ?? 3));
  console.log(`\n## File catch-up: ${count} files (90% 2–50 KB, 10% 1–5 MB), then 200 modified and 100 new on one side`);
  const figures: FileFigures[] = [];
  for (let i = 0; i < rounds; i++) figures.push(await fileCatchup(count));
  const ofRounds = (pick: (f: FileFigures) => number | undefined) => figures.map(pick).filter((v): v is number => v !== undefined);
  const ours = ofRounds((f) => f.ours.seconds);
  const rsync = ofRounds((f) => f.rsync?.seconds);
  const rows = [['Catch-up Sync file catch-up (scan + compare + transfer)', median(ours).toFixed(2), eachRound(ours)]];
  if (rsync.length) {
    rows.push(['rsync -a --checksum to a daemon on 127.0.0.1', median(rsync).toFixed(2), eachRound(rsync)]);
    const rsyncFsync = ofRounds((f) => f.rsyncFsync?.seconds);
    if (rsyncFsync.length) rows.push(['rsync -a --checksum --fsync (each file fsynced, as ours)', median(rsyncFsync).toFixed(2), eachRound(rsyncFsync)]);
    printTable(['path', 'seconds (median)', 'each round'], rows);
    console.log(`ratio ours / rsync: ${(median(ours) / median(rsync)).toFixed(2)} (target ≤ 1.2; medians of ${rounds} rounds)`);
    if (rsyncFsync.length)
      console.log(
        `ratio ours / rsync --fsync: ${(median(ours) / median(rsyncFsync)).toFixed(2)} (our receiver fsyncs each file before its rename, F3; rsync only with --fsync)`,
      );
  } else {
    printTable(['path', 'seconds (median)', 'each round'], rows);
    console.log('rsync baseline skipped: rsync could not be installed');
  }
  console.log(
    `CPU during our catch-up (median): node A ${median(ofRounds((f) => f.cpu.a)).toFixed(2)} s, node B ${median(ofRounds((f) => f.cpu.b)).toFixed(2)} s`,
  );
}
