// Reads and writes the sync_config table.
import type { Db } from '@catchup/db';
import type { RuntimeSettings } from './settings.ts';
import { resolveRuntimeSettings, toConfigRows } from './runtime.ts';

export async function loadRuntimeSettings(db: Db, defaults: RuntimeSettings): Promise<RuntimeSettings> {
  const rows = await db.syncConfig.findMany({ select: { key: true, value: true, valueType: true } });
  return resolveRuntimeSettings(defaults, rows);
}

/** Validates then stores every key of the patch in one transaction; returns the settings now in force. */
export async function updateRuntimeSettings(db: Db, defaults: RuntimeSettings, patch: Record<string, unknown>): Promise<RuntimeSettings> {
  const rows = toConfigRows(patch);
  await db.$transaction(
    rows.map((row) =>
      db.syncConfig.upsert({
        where: { key: row.key },
        create: row,
        update: { value: row.value, valueType: row.valueType },
      }),
    ),
  );
  return loadRuntimeSettings(db, defaults);
}
