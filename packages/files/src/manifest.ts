// Reading the manifest: by change sequence (what file syncs use: immune to clock skew) or, for API
// clients that ask with `since`, by modification time.
import { inTransaction, type Pool, type PoolClient } from '@catchup/db';
import { FILE_DIRECTORIES, type FileDirectory } from './roots.ts';

export interface ManifestEntry {
  path: string;
  sha256: string;
  size: number;
  mtime: string;
  change_seq: string;
  deleted: boolean;
}

/**
 * The most entries one manifest page holds (nodes of every version take pages this large). A file sync
 * asks for pages this large: over a slow link each page is a round trip before the first file moves.
 */
export const MANIFEST_PAGE_MAX = 10_000;

export interface ManifestQuery {
  /** Entries whose change sequence is above this. */
  afterSeq?: string;
  /** Entries modified (or deleted) after this time. */
  since?: Date;
  limit: number;
}

export interface ManifestPage {
  files: ManifestEntry[];
  next_seq: string;
  has_more: boolean;
  /**
   * The newest change sequence of all folders as the page was read. No change at or below it was still
   * being written then: a change the page's range lacks gets a sequence above it.
   */
  latest_seq: string;
}

/**
 * A page of a folder's manifest. Writers of file_checksums are held off while it is read (SHARE lock:
 * it waits for those already writing): a sequence taken by a write not yet committed would otherwise be
 * missing from the page, below the latest_seq it reports.
 */
export async function readManifest(pool: Pool, directory: FileDirectory, query: ManifestQuery): Promise<ManifestPage> {
  return inTransaction(pool, (client) => readManifestPage(client, directory, query), 'LOCK TABLE file_checksums IN SHARE MODE');
}

async function readManifestPage(client: PoolClient, directory: FileDirectory, query: ManifestQuery): Promise<ManifestPage> {
  const { rows } = await client.query<ManifestEntry & { size: string }>(
    `SELECT path, sha256, size::text AS size,
            to_char(mtime AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS mtime,
            change_seq::text AS change_seq, deleted
       FROM file_checksums
      WHERE directory = $1
        AND ($2::bigint IS NULL OR change_seq > $2::bigint)
        AND ($3::timestamptz IS NULL OR mtime > $3::timestamptz OR (deleted AND updated_at > $3::timestamptz))
      ORDER BY file_checksums.change_seq
      LIMIT $4`,
    [directory, query.afterSeq ?? null, query.since ?? null, query.limit],
  );
  const files = rows.map((r) => ({ ...r, size: Number(r.size) }));
  return {
    files,
    next_seq: files.at(-1)?.change_seq ?? query.afterSeq ?? '0',
    has_more: files.length === query.limit,
    latest_seq: await latestFileSeq(client),
  };
}

/**
 * Newest change sequence of the manifest, all folders together ('0' when empty). Taken per folder: the
 * (directory, change_seq) index answers each at once, where a max over the whole table reads every row.
 */
export async function latestFileSeq(pool: Pool | PoolClient): Promise<string> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT coalesce(max(latest), 0)::text AS n
       FROM unnest($1::text[]) AS d(directory),
            LATERAL (SELECT max(change_seq) AS latest FROM file_checksums f WHERE f.directory = d.directory) x`,
    [FILE_DIRECTORIES],
  );
  return rows[0]!.n;
}
