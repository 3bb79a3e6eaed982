import { describe, expect, it } from 'vitest';
import { ConfigError, loadNodeConfig, loadRuntimeSettings, resolveRuntimeSettings, updateRuntimeSettings } from '@catchup/config';
import { useTestDatabases } from '@catchup/testing';

const [node] = await useTestDatabases(1, 'config');
const defaults = loadNodeConfig({}).defaults;

describe('sync_config overrides at run time', () => {
  it('returns the environment defaults while the table is empty', async () => {
    expect(await loadRuntimeSettings(node!.db, defaults)).toEqual(defaults);
  });

  it('applies typed rows over the defaults', async () => {
    await node!.db.syncConfig.createMany({
      data: [
        { key: 'catchup_batch_size', value: '250', valueType: 'integer' },
        { key: 'catchup_enabled', value: 'false', valueType: 'boolean' },
        { key: 'app_theme', value: 'dark', valueType: 'string' },
      ],
    });
    const settings = await loadRuntimeSettings(node!.db, defaults);
    expect(settings.catchup_batch_size).toBe(250);
    expect(settings.catchup_enabled).toBe(false);
    expect(settings.max_catchup_days).toBe(30);
  });

  it('refuses a row whose value is not of its declared type, naming the key', async () => {
    await node!.db.syncConfig.update({ where: { key: 'catchup_batch_size' }, data: { value: 'lots' } });
    await expect(loadRuntimeSettings(node!.db, defaults)).rejects.toThrow(
      /sync_config:\n\s+catchup_batch_size: expected value_type 'integer' with an integer from 1 to 10000, got "lots"/,
    );
    await node!.db.syncConfig.update({ where: { key: 'catchup_batch_size' }, data: { value: '250' } });
  });

  it('refuses a row with the wrong value_type for its key', () => {
    expect(() => resolveRuntimeSettings(defaults, [{ key: 'catchup_enabled', value: '1', valueType: 'integer' }])).toThrow(
      /catchup_enabled: expected value_type 'boolean'/,
    );
  });

  it('refuses out-of-range and malformed values', () => {
    for (const row of [
      { key: 'catchup_check_interval', value: '0', valueType: 'integer' },
      { key: 'max_catchup_days', value: '12.5', valueType: 'integer' },
      { key: 'catchup_scheduler_enabled', value: 'perhaps', valueType: 'boolean' },
    ]) {
      let caught: unknown;
      try {
        resolveRuntimeSettings(defaults, [row]);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).problems.map((p) => p.key)).toEqual([row.key]);
    }
  });

  it('stores a valid update and reads it back typed', async () => {
    const settings = await updateRuntimeSettings(node!.db, defaults, { catchup_check_interval: 42, catchup_enabled: true });
    expect(settings.catchup_check_interval).toBe(42);
    expect(settings.catchup_enabled).toBe(true);
    const row = await node!.db.syncConfig.findUnique({ where: { key: 'catchup_check_interval' } });
    expect(row).toMatchObject({ value: '42', valueType: 'integer' });
  });

  it('stores nothing when any key of an update is invalid', async () => {
    const before = await node!.db.syncConfig.findMany({ orderBy: { key: 'asc' } });
    await expect(updateRuntimeSettings(node!.db, defaults, { catchup_check_interval: 60, catchup_batch_size: 'big' })).rejects.toThrow(
      /catchup_batch_size: expected an integer from 1 to 10000/,
    );
    await expect(updateRuntimeSettings(node!.db, defaults, { no_such_key: 1 })).rejects.toThrow(/no_such_key: expected a known setting key/);
    expect(await node!.db.syncConfig.findMany({ orderBy: { key: 'asc' } })).toEqual(before);
  });
});
