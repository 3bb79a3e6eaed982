// Database-level administration (create / drop) through a maintenance connection.
import pg from 'pg';

function splitUrl(databaseUrl: string): { adminUrl: string; database: string } {
  const url = new URL(databaseUrl);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database) throw new Error(`DATABASE_URL has no database name: ${redactUrl(databaseUrl)}`);
  url.pathname = '/postgres';
  return { adminUrl: url.toString(), database };
}

export function redactUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '<invalid url>';
  }
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function withAdmin<T>(databaseUrl: string, fn: (client: pg.Client, database: string) => Promise<T>): Promise<T> {
  const { adminUrl, database } = splitUrl(databaseUrl);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client, database);
  } finally {
    await client.end();
  }
}

/** Creates the database named in the URL when it does not exist; returns true when it created it. */
export async function ensureDatabase(databaseUrl: string, template?: string): Promise<boolean> {
  return withAdmin(databaseUrl, async (client, database) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(database)}${template ? ` TEMPLATE ${quoteIdent(template)}` : ''}`);
    } catch (err) {
      if ((err as { code?: string }).code === '42P04') return false; // created concurrently
      throw err;
    }
    return true;
  });
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  await withAdmin(databaseUrl, async (client, database) => {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  });
}
