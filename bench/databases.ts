// Throwaway databases for benchmarks, on the same server as DATABASE_URL (default: the local one).
import pg from 'pg';
import { dropDatabase } from '@catchup/db';
import { migrateDeploy } from '@catchup/db/migrations';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export function benchUrl(name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function freshMigratedDatabase(name: string): Promise<string> {
  await dropDatabase(benchUrl(name));
  await migrateDeploy(benchUrl(name));
  return benchUrl(name);
}

/** A copy of `template` (which must have no open connections). */
export async function cloneDatabase(template: string, name: string): Promise<string> {
  await admin(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [template]);
    await client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  });
  return benchUrl(name);
}

/** Writes every dirty buffer of the server out now (needs a superuser, as the benchmark's databases do). */
export async function checkpoint(): Promise<void> {
  await admin((client) => client.query('CHECKPOINT'));
}

export async function dropBenchDatabases(prefix: string): Promise<void> {
  await admin(async (client) => {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${prefix}%`]);
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  });
}
