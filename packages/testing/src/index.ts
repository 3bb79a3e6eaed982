export { testPostgresUrl, testRedisUrl, databaseUrl, freePort, waitForHealth } from './services.ts';
export {
  createTestDatabase,
  createEmptyDatabaseUrl,
  useTestDatabases,
  type TestDatabase,
} from './databases.ts';
export { uniqueQueuePrefix, deleteKeysWithPrefix, useQueuePrefix } from './redis.ts';
export { SAMPLE_TABLES, clockLeadMs, rowsWithoutTheirLoggedVersion, sampleTablesDigest } from './integrity.ts';
export { usePrivatePostgres, type PrivatePostgres } from './private-postgres.ts';
export { usePrivateRedis, type PrivateRedis } from './private-redis.ts';
export { openTcpProxy, startTcpProxy, type TcpProxy } from './tcp-proxy.ts';
export { openThrottledLink, type LinkBytes, type LinkSettings, type LinkSide, type ThrottledLink } from './throttled-link.ts';
export { mulberry32 } from './seeded.ts';
export { teamChange } from './changes.ts';
export { createTestPki, type TestCa, type TestCertificate, type TestPki } from './tls.ts';
export { streamedZstd } from './zstd.ts';
