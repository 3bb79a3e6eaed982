// Applies and creates Prisma migrations offline, through Prisma's WebAssembly schema engine driven by the
// pg driver adapter. It writes the same `_prisma_migrations` table as `prisma migrate deploy`.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { MigrationList, SchemaEngine as WasmSchemaEngine } from '@prisma/schema-engine-wasm';
import { ensureDatabase } from './admin.ts';
import { SchemaEnginePgAdapter } from './schema-engine-adapter.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const schemaPath = path.join(repoRoot, 'prisma', 'schema.prisma');
export const migrationsDir = path.join(repoRoot, 'prisma', 'migrations');

const noFilter = { externalTables: [], externalEnums: [] };

export async function loadMigrationList(dir = migrationsDir): Promise<MigrationList> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const migrationDirectories = await Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name, 'migration.sql');
      const content = await readFile(file, 'utf8').then(
        (value) => ({ tag: 'ok' as const, value }),
        (err: Error) => ({ tag: 'error' as const, value: err.message }),
      );
      return { path: name, migrationFile: { path: 'migration.sql', content } };
    }),
  );
  const lockPath = path.join(dir, 'migration_lock.toml');
  const lockContent = await readFile(lockPath, 'utf8').catch(() => null);
  return {
    baseDir: dir,
    lockfile: { path: 'migration_lock.toml', content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

// The engine reports a Rust panic through this global before it aborts; keep the message for the error.
let lastPanic: string | undefined;
(globalThis as { PRISMA_WASM_PANIC_REGISTRY?: unknown }).PRISMA_WASM_PANIC_REGISTRY = {
  set_message(message: string) {
    lastPanic = message;
  },
};

/** Runs `work` with a schema engine connected to the database, then frees the engine and its connections. */
async function withEngine<T>(databaseUrl: string, schema: string | undefined, work: (engine: WasmSchemaEngine) => Promise<T>): Promise<T> {
  await ensureDatabase(databaseUrl);
  // Imported lazily: the module instantiates a 5 MB WebAssembly engine.
  const { SchemaEngine } = await import('@prisma/schema-engine-wasm');
  const pgAdapter = new SchemaEnginePgAdapter({ connectionString: databaseUrl });
  const datamodels: [string, string][] | undefined = schema ? [[schemaPath, schema]] : undefined;
  const engine = await SchemaEngine.new({ datamodels }, () => {}, bindMigrationAwareSqlAdapterFactory(pgAdapter));
  try {
    lastPanic = undefined;
    return await work(engine);
  } catch (err) {
    if (lastPanic) throw new Error(`Prisma schema engine panicked: ${lastPanic}`, { cause: err });
    throw err;
  } finally {
    engine.free();
    await pgAdapter.disposeAll();
  }
}

/** Creates the database if missing and applies pending migrations; returns the names applied now. */
export async function migrateDeploy(databaseUrl: string, dir = migrationsDir): Promise<string[]> {
  const migrationsList = await loadMigrationList(dir);
  return withEngine(databaseUrl, undefined, async (engine) => {
    const out = await engine.applyMigrations({ migrationsList, filters: noFilter });
    return out.appliedMigrationNames;
  });
}

/**
 * SQL that would bring `from` (the live database, or the committed migrations replayed in a shadow
 * database) to schema.prisma; an empty string when they match.
 */
export async function diffSchema(databaseUrl: string, from: 'database' | 'migrations'): Promise<string> {
  const schema = await readFile(schemaPath, 'utf8');
  return withEngine(databaseUrl, schema, async (engine) => {
    const source =
      from === 'database'
        ? { tag: 'schemaDatasource' as const, files: [{ path: schemaPath, content: schema }], configDir: path.dirname(schemaPath) }
        : { tag: 'migrations' as const, ...(await loadMigrationList()) };
    const result = await engine.diff({
      from: source,
      to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: schema }] },
      script: true,
      exitCode: null,
      filters: noFilter,
    });
    const sql = (result.stdout ?? '').trim();
    return sql === '-- This is an empty migration.' ? '' : sql;
  });
}

/**
 * Writes prisma/migrations/<UTC timestamp>_<name>/migration.sql holding the SQL that brings the committed
 * migrations to schema.prisma (the engine replays the migrations in a throwaway shadow database).
 * Returns the new folder, or null when the schema needs no change.
 */
export async function createMigration(databaseUrl: string, name: string, dir = migrationsDir): Promise<string | null> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`migration name must be snake_case letters and digits: ${name}`);
  const sql = await diffSchema(databaseUrl, 'migrations');
  if (!sql) return null;
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const folder = path.join(dir, `${stamp}_${name}`);
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'migration.sql'), `${sql}\n`);
  return folder;
}
