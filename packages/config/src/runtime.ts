// Runtime overrides from sync_config rows (typed by value_type) on top of the environment defaults.
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from './errors.ts';
import { isSettingKey, settingDefinitions, type RuntimeSettings } from './settings.ts';
import { describeExpected, parseTyped, serializeTyped } from './values.ts';

export interface ConfigRow {
  key: string;
  value: string;
  valueType: string;
}

/** Merges sync_config rows over the defaults. Unknown keys are left to their owners; bad known ones throw. */
export function resolveRuntimeSettings(defaults: RuntimeSettings, rows: ConfigRow[]): RuntimeSettings {
  const settings: Record<string, unknown> = { ...defaults };
  const problems: ConfigProblem[] = [];
  for (const row of rows) {
    if (!isSettingKey(row.key)) continue;
    const def = settingDefinitions[row.key];
    const expected = `value_type '${def.type}' with ${describeExpected(def.type, def.schema)}`;
    if (row.valueType !== def.type) {
      problems.push({ key: row.key, expected, received: `${row.valueType}: ${row.value}` });
      continue;
    }
    const parsed = parseTyped(row.value, def.type);
    const result = (def.schema as z.ZodType).safeParse(parsed);
    if (parsed === undefined || !result.success) {
      problems.push({ key: row.key, expected, received: row.value });
      continue;
    }
    settings[row.key] = result.data;
  }
  if (problems.length) throw new ConfigError('sync_config', problems);
  return settings as RuntimeSettings;
}

/**
 * Validates an operator's update (JSON values, e.g. from PUT /api/sync/config) and returns the rows to
 * store. Throws ConfigError naming every bad key; nothing is stored unless all are valid.
 */
export function toConfigRows(patch: Record<string, unknown>): ConfigRow[] {
  const rows: ConfigRow[] = [];
  const problems: ConfigProblem[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (!isSettingKey(key)) {
      problems.push({ key, expected: 'a known setting key' });
      continue;
    }
    const def = settingDefinitions[key];
    const result = (def.schema as z.ZodType).safeParse(value);
    if (!result.success) {
      problems.push({ key, expected: describeExpected(def.type, def.schema), received: JSON.stringify(value) });
      continue;
    }
    rows.push({ key, value: serializeTyped(result.data, def.type), valueType: def.type });
  }
  if (problems.length) throw new ConfigError('update', problems);
  return rows;
}
