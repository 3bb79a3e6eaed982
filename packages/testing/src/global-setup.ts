// vitest global setup: migrate one template database per migrations version, once per run. Each test
// file then clones it (CREATE DATABASE … TEMPLATE), which is a fresh, fully migrated database in ~100 ms.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateDeploy, migrationsDir } from '@catchup/db/migrations';
import './provided.ts';
import { databaseUrl, TEST_DB_PREFIX, testPostgresUrl } from './services.ts';

async function migrationsHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(migrationsDir)).sort()) {
    const file = path.join(migrationsDir, name, 'migration.sql');
    const sql = await readFile(file, 'utf8').catch(() => '');
    hash.update(name).update(sql);
  }
  return hash.digest('hex').slice(0, 12);
}

export default async function setup(project: TestProject): Promise<void> {
  const template = `catchup_template_${await migrationsHash()}`;
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  try {
    // Sweep what a killed run left behind, and templates of older migration sets: databases nobody is
    // connected to (another run going on at the same time keeps its databases open). One that gets a
    // connection meanwhile refuses the drop, and stays.
    const stale = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database d
        WHERE (datname LIKE $1 OR datname LIKE 'catchup_template_%') AND datname <> $2
          AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
      [`${TEST_DB_PREFIX}%`, template],
    );
    for (const { datname } of stale.rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}"`).catch(() => {});

    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (!exists.rowCount) {
      try {
        await migrateDeploy(databaseUrl(template));
      } catch (err) {
        await admin.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
        throw err;
      }
    }
    // A template cannot be cloned while anyone is connected to it.
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [template]);
  } finally {
    await admin.end();
  }
  project.provide('templateDatabase', template);
}
