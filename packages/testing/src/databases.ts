// Per-test-file PostgreSQL databases: cloned from the migrated template, dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { createDb, dropDatabase, type Db } from '@catchup/db';
import './provided.ts';
import { databaseUrl, testDatabaseName, testPostgresUrl } from './services.ts';

export interface TestDatabase {
  name: string;
  url: string;
  /** A Prisma client on this database (closed by drop()). */
  db: Db;
  drop(): Promise<void>;
}

function uniqueName(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '_')
    .slice(0, 20);
  return testDatabaseName(inject('testRunPid'), `${clean}_${randomBytes(5).toString('hex')}`);
}

async function cloneTemplate(name: string, template: string): Promise<void> {
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        return;
      } catch (err) {
        // 55006: another file is cloning the template right now; clones must take turns.
        if ((err as { code?: string }).code !== '55006' || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  } finally {
    await admin.end();
  }
}

/** A fresh, migrated database of its own. */
export async function createTestDatabase(label = 'db'): Promise<TestDatabase> {
  const name = uniqueName(label);
  await cloneTemplate(name, inject('templateDatabase'));
  const url = databaseUrl(name);
  const db = createDb(url, { max: 5 });
  return {
    name,
    url,
    db,
    async drop() {
      await db.$disconnect();
      await dropDatabase(url);
    },
  };
}

/** An empty database (no tables at all), for migration tests. */
export async function createEmptyDatabaseUrl(label = 'empty'): Promise<{ url: string; drop(): Promise<void> }> {
  const url = databaseUrl(uniqueName(label));
  return { url, drop: () => dropDatabase(url) };
}

/**
 * Databases for this test file, created now and dropped after the file's last test.
 * Call at the top level of a test file: `const [a, b] = await useTestDatabases(2);`.
 */
export async function useTestDatabases(count: number, label = 'node'): Promise<TestDatabase[]> {
  const dbs = await Promise.all(Array.from({ length: count }, (_, i) => createTestDatabase(`${label}${i}`)));
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });
  return dbs;
}
