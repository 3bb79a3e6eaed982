// Recording files in the manifest: what a transfer did, so that the next scan need not hash it again, and
// what a scan found, over entries no one changed since it read them.
import type { Pool, PoolClient } from '@catchup/db';
import type { FileDirectory } from './roots.ts';

export interface RecordedFile {
  file: string;
  sha256: string;
  size: number;
  mtimeMs: number;
}

/** Records files as present with the given content (a new change sequence each), in one statement. */
export async function recordFiles(sql: Pool | PoolClient, directory: FileDirectory, files: RecordedFile[]): Promise<void> {
  if (!files.length) return;
  await sql.query(
    `INSERT INTO file_checksums (directory, path, sha256, size, mtime, change_seq, deleted, updated_at)
     SELECT $1, x.path, x.sha256, x.size, to_timestamp(x.mtime_ms / 1000.0), nextval('file_checksums_change_seq'), false, now()
       FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS x(path, sha256, size, mtime_ms)
     ON CONFLICT (directory, path) DO UPDATE SET sha256 = EXCLUDED.sha256, size = EXCLUDED.size, mtime = EXCLUDED.mtime,
       change_seq = EXCLUDED.change_seq, deleted = false, updated_at = now()`,
    [directory, files.map((f) => f.file), files.map((f) => f.sha256), files.map((f) => f.size), files.map((f) => Math.floor(f.mtimeMs))],
  );
}

/** A file a scan found new or changed, with the change sequence its row had when the scan read it (null: no row). */
export interface ScannedFile extends RecordedFile {
  seenSeq: string | null;
}

/**
 * Records what a scan found, for each file only where its row is still as the scan read it at its start
 * (same change sequence; or still no row): a transfer that put a file in place meanwhile recorded it
 * itself, and the scan's older reading must neither announce it again as a local change nor record over
 * it a version the disk no longer holds. A file skipped here is compared again by the next scan. Returns
 * the paths recorded.
 */
export async function recordScannedFiles(client: PoolClient, directory: FileDirectory, files: ScannedFile[]): Promise<Set<string>> {
  if (!files.length) return new Set();
  const { rows } = await client.query<{ path: string }>(
    `WITH x AS (SELECT * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[]) AS x(path, sha256, size, mtime_ms, seen_seq)),
     updated AS (
       UPDATE file_checksums f SET sha256 = x.sha256, size = x.size, mtime = to_timestamp(x.mtime_ms / 1000.0),
              change_seq = nextval('file_checksums_change_seq'), deleted = false, updated_at = now()
         FROM x WHERE f.directory = $1 AND f.path = x.path AND f.change_seq = x.seen_seq
       RETURNING f.path),
     inserted AS (
       INSERT INTO file_checksums (directory, path, sha256, size, mtime, change_seq, deleted, updated_at)
       SELECT $1, x.path, x.sha256, x.size, to_timestamp(x.mtime_ms / 1000.0), nextval('file_checksums_change_seq'), false, now()
         FROM x WHERE x.seen_seq IS NULL
       ON CONFLICT (directory, path) DO NOTHING
       RETURNING path)
     SELECT path FROM updated UNION ALL SELECT path FROM inserted`,
    [
      directory,
      files.map((f) => f.file),
      files.map((f) => f.sha256),
      files.map((f) => f.size),
      files.map((f) => Math.floor(f.mtimeMs)),
      files.map((f) => f.seenSeq),
    ],
  );
  return new Set(rows.map((r) => r.path));
}

export async function recordFile(
  pool: Pool,
  directory: FileDirectory,
  relative: string,
  file: { sha256: string; size: number; mtimeMs: number },
): Promise<void> {
  await recordFiles(pool, directory, [{ file: relative, sha256: file.sha256, size: file.size, mtimeMs: file.mtimeMs }]);
}

export async function recordDeletion(pool: Pool, directory: FileDirectory, relative: string): Promise<void> {
  await pool.query(
    `UPDATE file_checksums SET deleted = true, change_seq = nextval('file_checksums_change_seq'), updated_at = now()
      WHERE directory = $1 AND path = $2 AND NOT deleted`,
    [directory, relative],
  );
}

/** A path as a manifest records it: the file's content, size and mtime, or a tombstone (`deleted`). */
export interface ManifestFile {
  sha256: string;
  size: number;
  mtimeMs: number;
  deleted: boolean;
}

/** A folder's manifest as a map path → entry (tombstones included). */
export type Manifest = Map<string, ManifestFile>;

/** The local manifest of a folder. */
export async function manifestMap(pool: Pool, directory: FileDirectory): Promise<Manifest> {
  const { rows } = await pool.query<{ path: string; sha256: string; size: string; mtime_ms: string; deleted: boolean }>(
    `SELECT path, sha256, size::text AS size, (extract(epoch FROM mtime) * 1000)::bigint::text AS mtime_ms, deleted
       FROM file_checksums WHERE directory = $1`,
    [directory],
  );
  return new Map(rows.map((r) => [r.path, { sha256: r.sha256, size: Number(r.size), mtimeMs: Number(r.mtime_ms), deleted: r.deleted }]));
}
