// Benchmark: file catch-up of 200 modified and 100 new files in a 2,000-file tree, against
// `rsync -a --checksum` of the same change to an rsync daemon on 127.0.0.1 (see ../shared/ANCHORS.md).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dropBenchDatabases, freshMigratedDatabase } from './databases.ts';
import { freePort } from '@catchup/testing/services';
import { postScan, register, startNodeProcess, stop, type NodeProcess } from './catchup.ts';
import { printTable, timed } from './report.ts';

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

async function rsyncBaseline(original: string, changed: string, work: string): Promise<number> {
  const module = path.join(work, 'rsync-dest');
  await cp(original, module, { recursive: true, preserveTimestamps: true });
  const conf = path.join(work, 'rsyncd.conf');
  await writeFile(conf, `pid file = ${work}/rsyncd.pid\nuse chroot = false\n[bench]\n  path = ${module}\n  read only = false\n  uid = root\n  gid = root\n`);
  const port = await freePort();
  const daemon = spawn('rsync', ['--daemon', '--no-detach', `--port=${port}`, `--config=${conf}`, '--address=127.0.0.1'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 500));
    flushDisk();
    return await timed(async () => {
      execFileSync('rsync', ['-a', '--checksum', `${changed}/`, `rsync://127.0.0.1:${port}/bench/`]);
    });
  } finally {
    daemon.kill();
  }
}

export async function benchFiles(): Promise<void> {
  const count = Number(process.env.BENCH_FILES ?? 2000);
  console.log(`\n## File catch-up: ${count} files (90% 2–50 KB, 10% 1–5 MB), then 200 modified and 100 new on one side`);
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
    await register(a, b, 'files-b');
    await register(b, a, 'files-a');
    await scan(a); // first sync: both sides hash their trees and agree on a base (not timed)
    await changeTree(dirA);
    const changed = path.join(work, 'changed');
    await cp(dirA, changed, { recursive: true, preserveTimestamps: true });
    let moved = 0;
    flushDisk();
    const ours = await timed(async () => {
      moved = (await scan(a!)).uploaded;
    });
    if (moved !== 300) throw new Error(`expected 300 files moved, got ${moved}`);
    const rows = [['Catch-up Sync file catch-up (scan + compare + transfer)', ours.toFixed(2)]];
    if (ensureRsync()) {
      const rsync = await rsyncBaseline(original, changed, work);
      rows.push(['rsync -a --checksum to a daemon on 127.0.0.1', rsync.toFixed(2)]);
      printTable(['path', 'seconds'], rows);
      console.log(`ratio ours / rsync: ${(ours / rsync).toFixed(2)} (first target ≤ 2)`);
    } else {
      printTable(['path', 'seconds'], rows);
      console.log('rsync baseline skipped: rsync could not be installed');
    }
  } finally {
    if (a) await stop(a);
    if (b) await stop(b);
    await dropBenchDatabases(PREFIX);
    await rm(work, { recursive: true, force: true });
  }
}
