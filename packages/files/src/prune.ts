// Retention of file tombstones (SPEC I11): a deleted file's manifest entry older than the age limit is
// removed. A decision treats a tombstone and no entry alike (the file is absent), and what both sides
// agreed on stays in file_sync_state, so a pruned tombstone changes no decision. The entry with the newest
// change sequence is kept, so that the manifest position a node announces never goes back.
import { PRUNE_CHUNK_SIZE, type Pool } from '@catchup/db';

/** Removes tombstones last changed before `before`, PRUNE_CHUNK_SIZE per statement. Returns how many. */
export async function pruneFileTombstones(pool: Pool, before: Date, chunkSize = PRUNE_CHUNK_SIZE): Promise<number> {
  let removed = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      `DELETE FROM file_checksums f
        WHERE (f.directory, f.path) IN (
          SELECT directory, path FROM file_checksums
           WHERE deleted AND updated_at < $1
             AND change_seq < (SELECT max(change_seq) FROM file_checksums)
           LIMIT $2)`,
      [before, chunkSize],
    );
    removed += rowCount ?? 0;
    if ((rowCount ?? 0) < chunkSize) return removed;
  }
}
