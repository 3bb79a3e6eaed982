import { describe, expect, it } from 'vitest';
import { ConfigError, loadNodeConfig } from '@catchup/config';

function problemsOf(env: Record<string, string>): ConfigError {
  try {
    loadNodeConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration from the environment', () => {
  it('uses the default settings, port, database, Redis and queue prefix when nothing is set', () => {
    const config = loadNodeConfig({});
    expect(config.defaults).toMatchObject({
      catchup_enabled: true,
      max_catchup_days: 30,
      catchup_batch_size: 1000,
      catchup_check_interval: 300,
      catchup_connection_timeout: 60,
      catchup_scheduler_enabled: true,
    });
    expect(config.port).toBe(5000);
    expect(config.databaseUrl).toBe('postgresql://postgres@127.0.0.1:5432/catchup');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.syncApiKey).toBeUndefined();
    expect(config.queuePrefix).toBe(`catchup:${config.nodeName}`);
    expect(config.databasePoolSize).toBe(10);
  });

  it('parses every variable it is given', () => {
    const config = loadNodeConfig({
      CATCHUP_ENABLED: 'false',
      MAX_CATCHUP_DAYS: '7',
      CATCHUP_BATCH_SIZE: '500',
      CATCHUP_CHECK_INTERVAL: '15',
      CATCHUP_CONNECTION_TIMEOUT: '5',
      CATCHUP_SCHEDULER_ENABLED: '0',
      PORT: '5100',
      NODE_NAME: 'field-laptop',
      SYNC_API_KEY: 'k'.repeat(32),
      DATABASE_URL: 'postgresql://u:p@db:5433/other',
      REDIS_URL: 'redis://cache:6380/2',
      DATA_DIR: '/srv/catchup',
      QUEUE_PREFIX: '{site-a}',
      LOG_LEVEL: 'debug',
      DATABASE_POOL_SIZE: '6',
    });
    expect(config.defaults).toMatchObject({
      catchup_enabled: false,
      max_catchup_days: 7,
      catchup_batch_size: 500,
      catchup_check_interval: 15,
      catchup_connection_timeout: 5,
      catchup_scheduler_enabled: false,
    });
    expect(config).toMatchObject({
      port: 5100,
      nodeName: 'field-laptop',
      syncApiKey: 'k'.repeat(32),
      databaseUrl: 'postgresql://u:p@db:5433/other',
      redisUrl: 'redis://cache:6380/2',
      dataDir: '/srv/catchup',
      queuePrefix: '{site-a}',
      logLevel: 'debug',
      databasePoolSize: 6,
    });
  });

  it.each([
    ['CATCHUP_ENABLED', 'maybe', /CATCHUP_ENABLED: expected a boolean/],
    ['MAX_CATCHUP_DAYS', 'thirty', /MAX_CATCHUP_DAYS: expected an integer from 1 to 3650, got "thirty"/],
    ['CATCHUP_BATCH_SIZE', '0', /CATCHUP_BATCH_SIZE: expected an integer from 1 to 10000, got "0"/],
    ['CATCHUP_BATCH_SIZE', '2.5', /CATCHUP_BATCH_SIZE: expected an integer/],
    ['CATCHUP_CHECK_INTERVAL', '-5', /CATCHUP_CHECK_INTERVAL: expected an integer from 1/],
    ['CATCHUP_CONNECTION_TIMEOUT', '1e3', /CATCHUP_CONNECTION_TIMEOUT: expected an integer/],
    ['PORT', '70000', /PORT: expected an integer from 0 to 65535/],
    ['DATABASE_POOL_SIZE', '2', /DATABASE_POOL_SIZE: expected an integer from 4 to 100, got "2"/],
    ['DATABASE_URL', 'mysql://x/y', /DATABASE_URL: expected a postgresql:\/\/ URL/],
    ['REDIS_URL', 'not a url', /REDIS_URL: expected a redis:\/\/ URL/],
    ['NODE_NAME', 'has space', /NODE_NAME: expected a name/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: expected one of/],
    ['PEER_HOSTS', '10.0.0.0/8,http://node-b', /PEER_HOSTS: expected comma-separated host names, IP addresses or CIDR blocks/],
    ['PEER_HOSTS', '10.0.0.0/33', /PEER_HOSTS: expected comma-separated/],
  ])('refuses %s=%s naming the key and the expected type', (key, value, message) => {
    const err = problemsOf({ [key]: value });
    expect(err.message).toMatch(message);
    expect(err.problems.map((p) => p.key)).toEqual([key]);
  });

  it('reads PEER_HOSTS as a list of names, addresses and CIDR blocks (empty: any host)', () => {
    expect(loadNodeConfig({}).peerHosts).toEqual([]);
    expect(loadNodeConfig({ PEER_HOSTS: ' node-b.lan, 10.0.0.0/8 ,fd12::/16,192.168.1.7,' }).peerHosts).toEqual([
      'node-b.lan',
      '10.0.0.0/8',
      'fd12::/16',
      '192.168.1.7',
    ]);
  });

  it('reads the authentication edges: failed-attempt limit, metrics token, Bull Board password (none set: open /metrics, Bull Board off)', () => {
    expect(loadNodeConfig({})).toMatchObject({ authFailureLimit: 10, authFailureWindowSeconds: 60, metricsToken: undefined, adminPassword: undefined });
    expect(loadNodeConfig({ AUTH_FAILURE_LIMIT: '5', AUTH_FAILURE_WINDOW_SECONDS: '900', METRICS_TOKEN: 't'.repeat(16) })).toMatchObject({
      authFailureLimit: 5,
      authFailureWindowSeconds: 900,
      metricsToken: 't'.repeat(16),
    });
    expect(problemsOf({ AUTH_FAILURE_LIMIT: '0' }).message).toMatch(/AUTH_FAILURE_LIMIT: expected an integer from 1/);
    expect(problemsOf({ AUTH_FAILURE_WINDOW_SECONDS: 'soon' }).message).toMatch(/AUTH_FAILURE_WINDOW_SECONDS: expected an integer/);
    const short = problemsOf({ METRICS_TOKEN: 'short-token' });
    expect(short.message).toMatch(/METRICS_TOKEN: expected a token of at least 16 characters/);
    expect(short.message).not.toContain('short-token');
  });

  it('reads text settings (team filter columns, table priorities) and the compression level, refusing what is not of their form', () => {
    expect(loadNodeConfig({}).defaults).toMatchObject({ team_filter_columns: 'scouting_team_number', table_priorities: '' });
    expect(loadNodeConfig({}).compressionLevel).toBe(3);
    const set = loadNodeConfig({ TEAM_FILTER_COLUMNS: 'team, pit.team_no', TABLE_PRIORITIES: 'scouting_data,matches', COMPRESSION_LEVEL: '0' });
    expect(set.defaults).toMatchObject({ team_filter_columns: 'team, pit.team_no', table_priorities: 'scouting_data,matches' });
    expect(set.compressionLevel).toBe(0);
    expect(problemsOf({ TEAM_FILTER_COLUMNS: 'Team Number' }).message).toMatch(/TEAM_FILTER_COLUMNS: expected comma-separated column names/);
    expect(problemsOf({ TABLE_PRIORITIES: 'a.b' }).message).toMatch(/TABLE_PRIORITIES: expected comma-separated table names/);
    expect(problemsOf({ COMPRESSION_LEVEL: '20' }).message).toMatch(/COMPRESSION_LEVEL: expected an integer from 0/);
  });

  it('reports every bad key at once', () => {
    const err = problemsOf({ PORT: 'x', CATCHUP_BATCH_SIZE: 'y' });
    expect(err.problems.map((p) => p.key).sort()).toEqual(['CATCHUP_BATCH_SIZE', 'PORT']);
  });

  it('never echoes a rejected API key', () => {
    const err = problemsOf({ SYNC_API_KEY: 'short-secret' });
    expect(err.message).toMatch(/SYNC_API_KEY: expected a key of at least 16 characters/);
    expect(err.message).not.toContain('short-secret');
  });
});
