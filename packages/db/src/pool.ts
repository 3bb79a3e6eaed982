// A plain pg pool for the change log's set-wise SQL (bulk JSON in, bulk JSON out), where going through
// Prisma's query layer would cost more than the work itself. Prisma's driver adapter runs on one too.
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

const ignore = () => {};

/**
 * A pool on which a lost connection (a database restart, a network cut) never crashes the process: every
 * client has an 'error' listener from its first connection on, whether idle or checked out (a
 * transaction, a COPY, a job between two queries). The query in flight rejects, a later query on that
 * client rejects too ("not queryable"), the pool drops the client on release, and the next checkout
 * connects anew — so the caller's error handling (a job's retry, a request's 500) takes over.
 */
export function createPool(databaseUrl: string, max = 10): Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max });
  const lose = () => {
    for (const listener of lostListeners.get(pool) ?? []) listener();
  };
  pool.on('error', ignore); // an idle client lost: the pool has removed it already
  pool.on('connect', (client) => client.once('error', lose).on('error', ignore));
  return pool;
}

const lostListeners = new WeakMap<Pool, (() => void)[]>();

/** Calls `listener` each time a connection of `pool` is lost (it is replaced by a new one at the next checkout). */
export function onConnectionLost(pool: Pool, listener: () => void): void {
  lostListeners.set(pool, [...(lostListeners.get(pool) ?? []), listener]);
}

/**
 * Runs `work` in one transaction on one connection; rolls back on any error. `setup` (SQL without
 * parameters, e.g. SET LOCAL) runs right after BEGIN, in the same round trip.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, setup?: string): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(setup ? `BEGIN; ${setup}` : 'BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
