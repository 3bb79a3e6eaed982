// The manifest (F2): what files each synced folder holds, kept in file_checksums. A file whose size and
// mtime did not change is not hashed again; a file that disappeared leaves a tombstone. Temp files of
// transfers are never listed; those left over by a crashed transfer are removed.
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FILE_SCAN_LOCK_BASE, type Pool } from '@catchup/db';
import { excluder, TEMP_FILE_PREFIX, type Excluder } from './exclude.ts';
import { quickFsFor, type QuickFs } from './quick-fs.ts';
import { recordScannedFiles, type ScannedFile } from './record.ts';
import { sha256FileOfSize, unchangedWhileRead } from './hash.ts';
import { directoryRoot, FILE_DIRECTORIES, type FileDirectory } from './roots.ts';

export interface ScanStats {
  /** Files present (not excluded). */
  files: number;
  /** Files whose content was hashed this time. */
  hashed: number;
  added: number;
  changed: number;
  deleted: number;
}

interface Known {
  sha256: string;
  size: string;
  mtimeMs: string;
  deleted: boolean;
  /** The row's change sequence when the scan read it: the scan records over the row only while it is unchanged. */
  changeSeq: string;
}

export interface ScanOptions {
  exclude?: Excluder;
  /** Called for each file hashed (tests count them). */
  onHash?: (relativePath: string) => void;
  /** Called once the folder is walked, before any file is compared, and awaited (tests change files then). */
  onWalked?: () => Promise<void>;
}

/** Files stat'ed or hashed at once: twice libuv's four threads, so that none waits while JS handles a result. */
const SCAN_CONCURRENCY = 8;
/**
 * A temp file of ours untouched for this long is left over from a transfer that crashed (a running
 * transfer writes to its temp file, or sets its mtime, which renews its ctime): the scan removes it.
 */
export const STALE_TEMP_FILE_MS = 60 * 60 * 1000;

/** The folder's files, except excluded ones and our temp files (never in the manifest), which go to `temps`. */
async function* walk(quick: QuickFs, root: string, exclude: Excluder, temps: string[], relative = ''): AsyncGenerator<string> {
  const entries = await quick.readdir(path.join(root, relative)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  for (const entry of entries) {
    const rel = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isSymbolicLink()) continue; // never followed: a link could lead outside the folder (F5)
    if (entry.isDirectory()) {
      if (!exclude(`${rel}/.`)) yield* walk(quick, root, exclude, temps, rel);
    } else if (entry.isFile() && entry.name.startsWith(TEMP_FILE_PREFIX)) {
      temps.push(rel);
    } else if (entry.isFile() && !exclude(rel)) {
      yield rel;
    }
  }
}

/** Removes the temp files among `temps` that no transfer has touched for STALE_TEMP_FILE_MS. */
async function sweepStaleTempFiles(root: string, temps: string[]): Promise<void> {
  const now = Date.now();
  await Promise.all(
    temps.map(async (rel) => {
      const info = await stat(path.join(root, rel)).catch(() => null);
      if (info && now - info.ctimeMs > STALE_TEMP_FILE_MS) await rm(path.join(root, rel), { force: true });
    }),
  );
}

/**
 * When the last completed scan of each folder started (ms since 1970), per database and folder root: a
 * file sync may build on the scan its detection made moments before instead of walking the folder again.
 */
const scanStarts = new WeakMap<Pool, Map<string, number>>();

/** Whether a scan of the folder began at or after `since`; one that began after now (the clock was set back since) does not count. */
function scannedSince(pool: Pool, root: string, since: number): boolean {
  const startedAt = scanStarts.get(pool)?.get(root);
  return startedAt !== undefined && startedAt >= since && startedAt <= Date.now();
}

function noteScanStart(pool: Pool, root: string, startedAt: number): void {
  let starts = scanStarts.get(pool);
  if (!starts) {
    starts = new Map();
    scanStarts.set(pool, starts);
  }
  starts.set(root, startedAt);
}

/** Brings file_checksums for one folder in line with the disk. One scan per folder at a time. */
export async function scanDirectory(pool: Pool, dataDir: string, directory: FileDirectory, options: ScanOptions = {}): Promise<ScanStats> {
  return (await scanUnlessScannedSince(pool, dataDir, directory, undefined, options))!;
}

/**
 * Brings the folder's manifest up to date with the disk as it was at `since` (ms since 1970): a scan of
 * it that started then or later and completed in this process stands (null); else it is scanned now.
 * A scan still running when this one asks is waited for (the folder's lock), and then stands.
 */
export async function scanDirectoryUnlessScannedSince(
  pool: Pool,
  dataDir: string,
  directory: FileDirectory,
  since: number,
  options: ScanOptions = {},
): Promise<ScanStats | null> {
  if (scannedSince(pool, directoryRoot(dataDir, directory), since)) return null;
  return scanUnlessScannedSince(pool, dataDir, directory, since, options);
}

/** `since` undefined: scanned whatever scans came before. */
async function scanUnlessScannedSince(
  pool: Pool,
  dataDir: string,
  directory: FileDirectory,
  since: number | undefined,
  options: ScanOptions,
): Promise<ScanStats | null> {
  const root = directoryRoot(dataDir, directory);
  await mkdir(root, { recursive: true });
  const exclude = options.exclude ?? excluder();
  const client = await pool.connect();
  const lockKey = FILE_SCAN_LOCK_BASE + FILE_DIRECTORIES.indexOf(directory);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [lockKey]);
    if (since !== undefined && scannedSince(pool, root, since)) return null;
    const startedAt = Date.now();
    const { rows } = await client.query<{ path: string } & Known>(
      `SELECT path, sha256, size::text AS size, (extract(epoch FROM mtime) * 1000)::bigint::text AS "mtimeMs", deleted,
              change_seq::text AS "changeSeq"
         FROM file_checksums WHERE directory = $1`,
      [directory],
    );
    const known = new Map(rows.map((r) => [r.path, r]));
    const stats: ScanStats = { files: 0, hashed: 0, added: 0, changed: 0, deleted: 0 };
    const pending: ScannedFile[] = [];
    const touched: ScannedFile[] = [];
    const present = new Set<string>();
    const files: string[] = [];
    const temps: string[] = [];
    const quick = await quickFsFor(root);
    for await (const rel of walk(quick, root, exclude, temps)) files.push(rel);
    await sweepStaleTempFiles(root, temps);
    await options.onWalked?.();
    // stat and hash a few files at once: the disk and the hashing overlap.
    let next = 0;
    const work = async () => {
      while (next < files.length) {
        const rel = files[next++]!;
        // Names read from the disk under a normalized root: nothing for path.join to normalize.
        const full = `${root}${path.sep}${rel}`;
        const info = await quick.stat(full);
        if (!info?.isFile()) continue;
        present.add(rel);
        stats.files++;
        const mtimeMs = Math.floor(info.mtimeMs);
        const before = known.get(rel);
        if (before && !before.deleted && before.size === String(info.size) && before.mtimeMs === String(mtimeMs)) continue;
        options.onHash?.(rel);
        const sha256 = await sha256FileOfSize(full, info.size, quick);
        stats.hashed++;
        // A file that changed while it was hashed (still being written) keeps its last recorded version
        // until a scan reads it whole and still: what was hashed is no version of it.
        if (!unchangedWhileRead(info, await quick.stat(full))) continue;
        if (before && !before.deleted && before.sha256 === sha256 && before.size === String(info.size)) {
          touched.push({ file: rel, sha256, size: info.size, mtimeMs, seenSeq: before.changeSeq });
          continue;
        }
        pending.push({ file: rel, sha256, size: info.size, mtimeMs, seenSeq: before?.changeSeq ?? null });
      }
    };
    await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, work));
    // Every write below is made only where a row is still as the scan read it (see recordScannedFiles):
    // transfers record what they put in place without this lock.
    if (touched.length) {
      // Touched, not changed: remember the new mtime without announcing a change.
      await client.query(
        `UPDATE file_checksums f SET mtime = to_timestamp(x.mtime_ms / 1000.0), updated_at = now()
           FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS x(path, mtime_ms, seen_seq)
          WHERE f.directory = $1 AND f.path = x.path AND f.change_seq = x.seen_seq`,
        [directory, touched.map((f) => f.file), touched.map((f) => f.mtimeMs), touched.map((f) => f.seenSeq)],
      );
    }
    while (pending.length) {
      const batch = pending.splice(0, 500);
      const recorded = await recordScannedFiles(client, directory, batch);
      for (const f of batch) {
        if (!recorded.has(f.file)) continue;
        if (f.seenSeq === null || known.get(f.file)!.deleted) stats.added++;
        else stats.changed++;
      }
    }
    const gone = [...known.values()].filter((k) => !k.deleted && !present.has(k.path));
    if (gone.length) {
      const { rowCount } = await client.query(
        `UPDATE file_checksums f SET deleted = true, change_seq = nextval('file_checksums_change_seq'), updated_at = now()
           FROM unnest($2::text[], $3::bigint[]) AS x(path, seen_seq)
          WHERE f.directory = $1 AND f.path = x.path AND f.change_seq = x.seen_seq`,
        [directory, gone.map((k) => k.path), gone.map((k) => k.changeSeq)],
      );
      stats.deleted = rowCount ?? 0;
    }
    noteScanStart(pool, root, startedAt);
    return stats;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [lockKey]).catch(() => {});
    client.release();
  }
}
