// The base of a file sync (F4): per peer, folder and path, the sha256 both sides agreed on after the
// last file sync with that peer (null: deleted on both), kept in file_sync_state. A decision compares
// each side with it to tell which side changed the file since.
import type { Pool } from '@catchup/db';
import type { FileDirectory } from './roots.ts';

/** Paths → the sha256 agreed on (null: deleted on both). */
export type Base = Map<string, string | null>;

/** What this node agreed on with the peer `serverId` for a folder. */
export async function readBase(pool: Pool, serverId: number, directory: FileDirectory): Promise<Base> {
  const { rows } = await pool.query<{ path: string; sha256: string | null }>(
    'SELECT path, sha256 FROM file_sync_state WHERE server_id = $1 AND directory = $2',
    [serverId, directory],
  );
  return new Map(rows.map((r) => [r.path, r.sha256]));
}

/**
 * The versions present on both sides that this node agreed on with peers other than `serverId`: the
 * newest agreement for each path.
 */
export async function readBasesElsewhere(pool: Pool, serverId: number, directory: FileDirectory): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ path: string; sha256: string }>(
    `SELECT path, sha256 FROM file_sync_state
      WHERE directory = $1 AND server_id <> $2 AND sha256 IS NOT NULL
      ORDER BY updated_at`,
    [directory, serverId],
  );
  return new Map(rows.map((r) => [r.path, r.sha256]));
}

/** An agreed state: the sha256 both sides hold at `path` (null: deleted on both). */
interface Agreed {
  path: string;
  sha256: string | null;
}

/** Records what both sides agreed on with the peer `serverId`, in one statement. */
async function recordAgreed(pool: Pool, serverId: number, directory: FileDirectory, agreed: Agreed[]): Promise<void> {
  if (!agreed.length) return;
  await pool.query(
    `INSERT INTO file_sync_state (server_id, directory, path, sha256, updated_at)
     SELECT $1, $2, x.path, x.sha256, now() FROM unnest($3::text[], $4::text[]) AS x(path, sha256)
     ON CONFLICT (server_id, directory, path) DO UPDATE SET sha256 = EXCLUDED.sha256, updated_at = now()`,
    [serverId, directory, agreed.map((a) => a.path), agreed.map((a) => a.sha256)],
  );
}

/** Agreed states are written in one statement per this many paths. */
const AGREED_BATCH = 200;

/** Records what both sides agreed on, in batches: `add` as each path settles, `flush` at the end. */
export class AgreedBase {
  readonly #pool: Pool;
  readonly #serverId: number;
  readonly #directory: FileDirectory;
  #pending: Agreed[] = [];

  constructor(pool: Pool, serverId: number, directory: FileDirectory) {
    this.#pool = pool;
    this.#serverId = serverId;
    this.#directory = directory;
  }

  async add(path: string, sha256: string | null): Promise<void> {
    this.#pending.push({ path, sha256 });
    if (this.#pending.length >= AGREED_BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    await recordAgreed(this.#pool, this.#serverId, this.#directory, batch);
  }
}
