// Conflict copies (F4) as the manifest holds them: the losing version of a file changed on both sides,
// kept beside the winner as `stem.sync-conflict-<stamp>-<hash>.ext` — the file half of the conflict inbox.
import type { Pool } from '@catchup/db';
import type { FileDirectory } from './roots.ts';

const CONFLICT_COPY = /^(.*)\.sync-conflict-(\d{8}T\d{6}Z)-[0-9a-f]+(\.[^/]*)?$/;

/** The path a conflict copy stands beside (pure); null when the name is not a conflict copy's. */
export function originalOfConflictCopy(copy: string): { original: string; stamp: string } | null {
  const match = CONFLICT_COPY.exec(copy);
  if (!match) return null;
  return { original: `${match[1]}${match[3] ?? ''}`, stamp: match[2]! };
}

export interface FileVersionInfo {
  sha256: string;
  size: number;
  mtimeMs: number;
}

export interface FileConflict {
  directory: FileDirectory;
  /** The path the winner holds. */
  original: string;
  /** The conflict copy holding the losing version. */
  copy: string;
  /** When the conflict was found (the copy's name says it). */
  found_at: string;
  winner: FileVersionInfo | null;
  loser: FileVersionInfo;
}

/** The conflict copies the manifest holds, live ones only, with the versions at both paths. */
export async function listConflictCopies(pool: Pool): Promise<FileConflict[]> {
  const { rows } = await pool.query<{ directory: FileDirectory; path: string; sha256: string; size: string; mtime: Date }>(
    `SELECT directory, path, sha256, size::text, mtime FROM file_checksums WHERE NOT deleted AND path LIKE '%.sync-conflict-%' ORDER BY directory, path`,
  );
  const out: FileConflict[] = [];
  for (const r of rows) {
    const named = originalOfConflictCopy(r.path);
    if (!named) continue;
    const { rows: originals } = await pool.query<{ sha256: string; size: string; mtime: Date }>(
      'SELECT sha256, size::text, mtime FROM file_checksums WHERE directory = $1 AND path = $2 AND NOT deleted',
      [r.directory, named.original],
    );
    const o = originals[0];
    const s = named.stamp;
    out.push({
      directory: r.directory,
      original: named.original,
      copy: r.path,
      found_at: `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`,
      winner: o ? { sha256: o.sha256, size: Number(o.size), mtimeMs: o.mtime.getTime() } : null,
      loser: { sha256: r.sha256, size: Number(r.size), mtimeMs: r.mtime.getTime() },
    });
  }
  return out;
}
