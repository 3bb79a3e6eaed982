// A plain pg pool for the change log's set-wise SQL (bulk JSON in, bulk JSON out), where going through
// Prisma's query layer would cost more than the work itself.
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(databaseUrl: string, max = 10): Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max });
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', () => {});
  return pool;
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
