export { createDb, type Db } from './client.ts';
export { ensureDatabase, dropDatabase, redactUrl } from './admin.ts';
export { Prisma } from './generated/client.ts';
export type { SyncServer, SyncLog, SyncConfig, FileChecksum, NodeIdentity } from './generated/client.ts';
export { BASELINE_RUNNER_LOCK_CLASS, FILE_SCAN_LOCK_BASE, LOG_LOCK_ID, PRUNE_LOCK_ID } from './advisory-locks.ts';
export { PRUNE_CHUNK_SIZE } from './prune-chunk.ts';
export { createPool, onConnectionLost, inTransaction, type Pool, type PoolClient } from './pool.ts';
