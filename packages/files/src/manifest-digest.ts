// A folder's manifest root hash (verify): md5 over its live entries' `path:sha256`, in path order (bytewise,
// the same on every node whatever its collation). Two nodes whose folders hold the same files have the
// same root hash; computed inside PostgreSQL from the manifest, which the caller brings up to date first.
import type { Pool } from '@catchup/db';
import type { FileDirectory } from './roots.ts';

export interface ManifestDigest {
  directory: FileDirectory;
  /** Live files (deletions not counted). */
  files: number;
  root_hash: string;
}

export async function manifestDigest(pool: Pool, directory: FileDirectory): Promise<ManifestDigest> {
  const { rows } = await pool.query<{ files: number; root_hash: string }>(
    `SELECT count(*)::int AS files, md5(coalesce(string_agg(path || ':' || sha256, E'\\n' ORDER BY path COLLATE "C"), '')) AS root_hash
       FROM file_checksums WHERE directory = $1 AND NOT deleted`,
    [directory],
  );
  return { directory, files: rows[0]!.files, root_hash: rows[0]!.root_hash };
}
