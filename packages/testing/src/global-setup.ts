// vitest global setup: migrate one template database per migrations version, once per run. Each test
// file then clones it (CREATE DATABASE … TEMPLATE), which is a fresh, fully migrated database in ~100 ms.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateDeploy, migrationsDir } from '@catchup/db/migrations';
import './provided.ts';
import { databaseUrl, TEST_DB_PREFIX, testDatabaseOwner, testPostgresUrl } from './services.ts';

async function migrationsHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(migrationsDir)).sort()) {
    const file = path.join(migrationsDir, name, 'migration.sql');
    const sql = await readFile(file, 'utf8').catch(() => '');
    hash.update(name).update(sql);
  }
  return hash.digest('hex').slice(0, 12);
}

/** Whether a process with this pid runs on this machine. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const template = `catchup_template_${await migrationsHash()}`;
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  try {
    // Sweep what runs that are over left behind (a killed run drops nothing): test databases whose owner
    // process is gone, and templates of other migration sets once no other run is alive. Runs going on
    // at the same time keep theirs, connected or not. One that is in use refuses the drop, and stays.
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1 OR (datname LIKE 'catchup_template_%' AND datname <> $2)`,
      [`${TEST_DB_PREFIX}%`, template],
    );
    const owners = rows.map(({ datname }) => ({ datname, owner: testDatabaseOwner(datname) }));
    const otherRunAlive = owners.some(({ owner }) => owner !== undefined && owner !== process.pid && isAlive(owner));
    const stale = owners.filter(({ datname, owner }) => (datname.startsWith('catchup_template_') ? !otherRunAlive : owner === undefined || !isAlive(owner)));
    for (const { datname } of stale) {
      await admin.query(`DROP DATABASE IF EXISTS "${datname}"`).catch(() => {});
    }

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
  project.provide('testRunPid', process.pid);
}
