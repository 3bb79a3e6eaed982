// Scans made ahead of a sync that is about to start: detection's scan of this node's folders, and the
// scan a peer's ping asks for while that peer's detection scans its own. The sync that comes next — the
// folder's file sync here, or the peer's manifest request — uses that scan instead of scanning the
// folder again, once, while it is fresh: as if it had scanned at that moment. A change made in between
// goes with the next sync, as one made just after a scan does, and nothing compared before it is
// replaced (as-compared.ts). A sync that finds no such scan scans, as it always did.
import type { Pool } from '@catchup/db';
import { directoryRoot, FILE_DIRECTORIES, type FileDirectory } from './roots.ts';
import { scanDirectory, type ScanOptions, type ScanStats } from './scanner.ts';

/** How long a scan made ahead stands in for the next sync's own. */
export const SCAN_AHEAD_FRESH_MS = 2_000;

interface Ahead {
  scan: Promise<ScanStats>;
  /** Set when the scan finished. */
  finishedAt?: number;
}

/** Per folder root, in this process: a scan made ahead and not yet used. */
const ahead = new Map<string, Ahead>();

const isFresh = (a: Ahead, now: number) => a.finishedAt === undefined || now - a.finishedAt < SCAN_AHEAD_FRESH_MS;

/**
 * Scans the folder for a sync about to start, and keeps the scan for it. `onlyIfStale` (a peer's ping):
 * not while a scan made ahead is running or fresh already, so that a peer pinging again and again costs
 * one scan per SCAN_AHEAD_FRESH_MS at most; detection always scans, since it decides from the disk as
 * it is now. Resolves once the scan is done; a failed scan is not kept.
 */
export function scanAhead(pool: Pool, dataDir: string, directory: FileDirectory, options: ScanOptions & { onlyIfStale?: boolean } = {}): Promise<ScanStats> {
  const root = directoryRoot(dataDir, directory);
  const standing = ahead.get(root);
  if (options.onlyIfStale && standing && isFresh(standing, Date.now())) return standing.scan;
  const entry: Ahead = {
    scan: scanDirectory(pool, dataDir, directory, options).then(
      (stats) => {
        entry.finishedAt = Date.now();
        return stats;
      },
      (err: unknown) => {
        if (ahead.get(root) === entry) ahead.delete(root);
        throw err;
      },
    ),
  };
  ahead.set(root, entry);
  return entry.scan;
}

/** scanAhead of every synced folder, one after the other. */
export async function scanFoldersAhead(pool: Pool, dataDir: string, options: ScanOptions & { onlyIfStale?: boolean } = {}): Promise<void> {
  for (const directory of FILE_DIRECTORIES) await scanAhead(pool, dataDir, directory, options);
}

/**
 * Brings the folder's manifest up to date with its disk for a sync: through the scan made ahead of it
 * when there is a fresh one (which is then used up; a running one is waited for), else by scanning.
 */
export async function scanForSync(pool: Pool, dataDir: string, directory: FileDirectory, options: ScanOptions = {}): Promise<ScanStats> {
  const root = directoryRoot(dataDir, directory);
  const standing = ahead.get(root);
  if (standing) {
    ahead.delete(root);
    if (isFresh(standing, Date.now())) {
      const stats = await standing.scan.catch(() => null);
      if (stats) return stats;
    }
  }
  return scanDirectory(pool, dataDir, directory, options);
}
